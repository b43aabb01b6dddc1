from django.core.management import call_command

from conversations.models import Conversation
from messaging.models import Attachment, Message, Reaction
from users.models import User


def test_seed_demo_creates_users_conversations_and_bulk_messages(db, capsys):
    call_command("seed_demo", "--force", "--messages", "1200", "--batch-size", "500")
    output = capsys.readouterr().out
    assert "chat-demo-pass" in output
    for username in ("alice", "bob", "carol"):
        assert User.objects.get(username=username).check_password("chat-demo-pass")
    load = Conversation.objects.get(title="Load test")
    seqs = list(
        Message.objects.filter(conversation=load).order_by("seq").values_list("seq", "version")
    )
    assert seqs == [(n, n) for n in range(1, 1201)]
    assert (load.last_seq, load.last_version) == (1200, 1200)


def test_seed_demo_is_idempotent_and_appends_to_the_load(db, capsys):
    call_command("seed_demo", "--force", "--messages", "10")
    call_command("seed_demo", "--messages", "5")
    assert User.objects.filter(username__in=["alice", "bob", "carol"]).count() == 3
    assert Conversation.objects.filter(title="Team").count() == 1
    load = Conversation.objects.get(title="Load test")
    assert load.last_seq == 15
    assert Message.objects.filter(conversation=load).count() == 15


def test_seed_demo_reacts_to_the_demo_conversation_once(db, capsys):
    call_command("seed_demo", "--force")
    call_command("seed_demo")
    direct = Conversation.objects.get(kind="direct", memberships__user__username="alice")
    reactions = Reaction.objects.filter(message__conversation=direct)
    assert sorted(reactions.values_list("user__username", "message__seq", "emoji")) == [
        ("alice", 2, "🎉"),
        ("bob", 1, "👀"),
        ("bob", 2, "🎉"),
        ("bob", 3, "👍"),
    ]
    direct.refresh_from_db()
    assert (direct.last_seq, direct.last_version) == (3, 7)


def test_seed_demo_shows_a_reply_mentions_and_an_edit_once(db, capsys):
    call_command("seed_demo", "--force")
    call_command("seed_demo")
    team = Conversation.objects.get(title="Team")
    messages = list(Message.objects.filter(conversation=team).order_by("seq"))
    assert [m.text for m in messages] == [
        "Welcome to the team room.",
        "Thanks @carol, glad to be here!",
        "@alice @carol could you look at my PR today?",
        "This week's sign-ups, and the notes for Friday's release.",
    ]
    assert messages[1].reply_to_id == messages[0].pk
    mentioned = [sorted(m.mention_rows.values_list("user__username", flat=True)) for m in messages]
    assert mentioned == [[], ["carol"], ["alice", "carol"], []]
    assert list(messages[2].edits.values_list("previous_text", flat=True)) == [
        "@alice could you look at my PR?"
    ]
    assert messages[2].edit_count == 1


def test_seed_demo_shares_an_image_and_a_file_once(db, capsys):
    call_command("seed_demo", "--force")
    call_command("seed_demo")
    team = Conversation.objects.get(title="Team")
    files = Attachment.objects.filter(conversation=team).order_by("position")
    assert [(a.name, a.content_type, a.message.sender.username) for a in files] == [
        ("signups-by-week.png", "image/png", "carol"),
        ("release-notes.txt", "text/plain; charset=utf-8", "carol"),
    ]
    chart, notes = files
    assert (chart.width, chart.height) == (480, 270) and chart.thumbnail
    assert notes.file.read().startswith(b"Release notes")
