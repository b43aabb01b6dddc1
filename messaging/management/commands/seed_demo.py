"""Demo data: users with known passwords, a direct and a group conversation
with a few messages, and optionally a bulk load of N messages. With DEBUG
off the users (public password) are created only with --force."""

import io
import itertools

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from PIL import Image, ImageDraw
from tqdm import tqdm

from conversations.models import Conversation
from conversations.services import create_conversation
from messaging.models import Message
from messaging.services import (
    add_reaction,
    edit_message,
    import_messages,
    send_message,
    upload_attachment,
)
from users import services as user_services
from users.models import User

DEMO_PASSWORD = "chat-demo-pass"
DEMO_USERS = [("alice", "Alice Archer"), ("bob", "Bob Baker"), ("carol", "Carol Chen")]
DEMO_SCRIPT = [
    ("alice", "Hi Bob! Did the deploy go out?"),
    ("bob", "Yes, about ten minutes ago. All green."),
    ("alice", "Great, thanks."),
]
# Reactions on the script's lines: (who, line, emoji).
DEMO_REACTIONS = [("bob", 0, "👀"), ("alice", 1, "🎉"), ("bob", 1, "🎉"), ("bob", 2, "👍")]
DEMO_NOTES = """Release notes (Friday)

- Attachments: images with previews, any other file as a download.
- Search: every message of your conversations, from the sidebar.
- Fixed: the tab title counted muted conversations.
"""
DEMO_SIGNUPS = [42, 57, 51, 73, 88, 95]


def demo_chart() -> bytes:
    """A small bar chart of DEMO_SIGNUPS as a PNG."""
    width, height, bar = 480, 270, 56
    image = Image.new("RGB", (width, height), "#f4f6fb")
    draw = ImageDraw.Draw(image)
    top = max(DEMO_SIGNUPS)
    for index, value in enumerate(DEMO_SIGNUPS):
        left = 32 + index * (bar + 18)
        draw.rectangle(
            (left, height - 24 - value * 200 // top, left + bar, height - 24), fill="#3b6fd8"
        )
    draw.line((24, height - 24, width - 24, height - 24), fill="#44506a", width=2)
    output = io.BytesIO()
    image.save(output, "PNG")
    return output.getvalue()


class Command(BaseCommand):
    help = "Create demo users and conversations; --messages N bulk-loads N messages."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--messages",
            type=int,
            default=0,
            help="Bulk-load this many messages into the 'Load test' group conversation.",
        )
        parser.add_argument("--batch-size", type=int, default=5000)
        parser.add_argument(
            "--force",
            action="store_true",
            help="Create the demo users even with DEBUG off (their password is public).",
        )

    def handle(self, *args, messages: int, batch_size: int, force: bool, **options) -> None:
        missing = {name for name, _ in DEMO_USERS} - set(
            User.objects.filter(username__in=[name for name, _ in DEMO_USERS]).values_list(
                "username", flat=True
            )
        )
        if missing and not settings.DEBUG and not force:
            raise CommandError(
                f"DEBUG is off: this looks like a production database, and the demo users "
                f"({', '.join(sorted(missing))}) would sign in with the public password "
                f"{DEMO_PASSWORD!r}. Run with --force to create them anyway."
            )
        users = self.demo_users()
        alice, bob, carol = (users[name] for name, _ in DEMO_USERS)
        direct, created = create_conversation(creator=alice, member_ids=[bob.pk])
        if created:
            script = [
                send_message(sender=users[username], conversation=direct, text=text)[0]
                for username, text in DEMO_SCRIPT
            ]
            for username, line, emoji in DEMO_REACTIONS:
                add_reaction(user=users[username], message=script[line], emoji=emoji)
        team = Conversation.objects.filter(kind="group", title="Team").first()
        if team is None:
            team, _ = create_conversation(
                creator=carol, member_ids=[alice.pk, bob.pk], title="Team", kind="group"
            )
            self.team_talk(team, carol=carol, alice=alice, bob=bob)
        self.stdout.write(f"Demo users (password '{DEMO_PASSWORD}'):")
        for name, _ in DEMO_USERS:
            self.stdout.write(f"  {name:<6} id={users[name].pk}")
        self.stdout.write(
            f"Direct conversation alice-bob: id={direct.pk}; group 'Team': id={team.pk}"
        )
        if messages > 0:
            self.bulk_load(alice, [alice, bob, carol], messages, batch_size)

    def team_talk(self, team: Conversation, *, carol: User, alice: User, bob: User) -> None:
        """The group's first messages: a reply, mentions and an edited message."""
        welcome, _ = send_message(sender=carol, conversation=team, text="Welcome to the team room.")
        send_message(
            sender=alice,
            conversation=team,
            text="Thanks @carol, glad to be here!",
            reply_to_id=welcome.pk,
        )
        question, _ = send_message(
            sender=bob, conversation=team, text="@alice could you look at my PR?"
        )
        edit_message(
            actor=bob, message=question, text="@alice @carol could you look at my PR today?"
        )
        self.share_files(team, carol)

    def share_files(self, team: Conversation, carol: User) -> None:
        """Attachments: an image (a bar chart drawn here) and a text file."""
        chart = upload_attachment(
            uploader=carol,
            conversation_id=team.pk,
            name="signups-by-week.png",
            content=demo_chart(),
        )
        notes = upload_attachment(
            uploader=carol,
            conversation_id=team.pk,
            name="release-notes.txt",
            content=DEMO_NOTES.encode(),
        )
        send_message(
            sender=carol,
            conversation=team,
            text="This week's sign-ups, and the notes for Friday's release.",
            attachment_ids=[chart.pk, notes.pk],
        )

    def demo_users(self) -> dict[str, User]:
        """The demo users, signed up through the sign-up service the first time."""
        users = {}
        with transaction.atomic():
            for username, display_name in DEMO_USERS:
                user = User.objects.filter(username=username).first()
                if user is None:
                    user = user_services.register_user(
                        username=username, password=DEMO_PASSWORD, display_name=display_name
                    )
                users[username] = user
        return users

    def bulk_load(self, creator: User, senders: list[User], count: int, batch_size: int) -> None:
        conversation = Conversation.objects.filter(kind="group", title="Load test").first()
        if conversation is None:
            conversation, _ = create_conversation(
                creator=creator,
                member_ids=[sender.pk for sender in senders],
                title="Load test",
                kind="group",
            )
        texts = (f"Load test message {number}" for number in itertools.count(1))
        with tqdm(total=count, unit="msg", desc="Loading messages") as progress:
            loaded = import_messages(
                conversation=conversation,
                senders=senders,
                texts=itertools.islice(texts, count),
                batch_size=batch_size,
                on_batch=progress.update,
            )
        if connection.vendor == "postgresql":
            # Fresh statistics for the planner: without them (autovacuum off,
            # or not yet run) history pages of a bulk-loaded table may be
            # planned as a sort of every row instead of an index scan.
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(Message._meta.db_table)}")
        conversation.refresh_from_db()
        self.stdout.write(
            f"Loaded {loaded} messages into 'Load test' (id={conversation.pk}); "
            f"last seq {conversation.last_seq}, last version {conversation.last_version}."
        )
