"""Form data for the admin's change pages."""

from conversations.models import Conversation, Membership


def change_form(conversation: Conversation, memberships: list[Membership], **fields) -> dict:
    """The POST data of the admin's change form of `conversation` as it stands,
    with its `memberships` inline; `fields` override or add form fields."""
    data = {
        "workspace": conversation.workspace_id,
        "title": conversation.title,
        "assignee": "",
        "rating": "",
        "summary": "",
        "memberships-TOTAL_FORMS": str(len(memberships)),
        "memberships-INITIAL_FORMS": str(len(memberships)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for index, membership in enumerate(memberships):
        data.update(
            {
                f"memberships-{index}-id": membership.pk,
                f"memberships-{index}-conversation": conversation.pk,
                f"memberships-{index}-user": membership.user_id,
                f"memberships-{index}-role": membership.role,
            }
        )
    data.update(fields)
    return data
