from django.core.management import call_command

from conversations.models import Conversation
from messaging.models import Message
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
