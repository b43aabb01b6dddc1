"""Messages with attachments through the seed endpoints: seed 002 names the
first file (`fileId`); seeds 001, 003 and 004, which have no field for files
and never an empty text, show a message of files alone by their names."""

import pytest

from messaging.services import send_message, upload_attachment
from tests.support.compat import conversation_of
from tests.support.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def files_only(workspace):
    agent, customer = UserFactory(), UserFactory()
    conversation = conversation_of({agent: "agent", customer: "customer"}, workspace=workspace)
    send_message(sender=customer, conversation=conversation, text="my bill:")
    files = [
        upload_attachment(
            uploader=customer, conversation_id=conversation.pk, name=name, content=content
        )
        for name, content in (("bill.pdf", b"%PDF-1.4"), ("id.txt", b"id"))
    ]
    send_message(
        sender=customer, conversation=conversation, text="", attachment_ids=[f.pk for f in files]
    )
    return conversation, files


def test_seed_002_names_the_first_attachment(anonymous, key, files_only):
    conversation, (bill, _) = files_only
    response = anonymous.get(
        f"/conversations/{conversation.access_token}/messages",
        headers={"Authorization": f"Bearer {key.secret}"},
    )
    assert response.status_code == 200, response.content
    messages = response.json()["messages"]
    assert [(m["content"], m["fileId"]) for m in messages] == [
        ("my bill:", None),
        ("", str(bill.pk)),
    ]


def test_seed_001_shows_the_file_names_as_the_text(anonymous, key, files_only):
    conversation, _ = files_only
    response = anonymous.get(
        f"/conversation/v1/conversations/{conversation.pk}/messages",
        headers={"asapp-api-id": key.key_id, "asapp-api-secret": key.secret},
    )
    assert response.status_code == 200, response.content
    texts = [item["text"] for item in response.json()["items"]]
    assert texts == ["my bill:", "bill.pdf, id.txt"]
