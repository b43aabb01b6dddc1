import factory
from factory.django import DjangoModelFactory

from conversations.models import Conversation, Membership
from users.models import User

TEST_PASSWORD = "correct-horse-battery-staple"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.LazyAttribute(lambda user: user.username.title())
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):
        if create:
            self.save(update_fields=["password"])


class ConversationFactory(DjangoModelFactory):
    """A conversation with `members` (a list of users), created directly; tests
    of the create service itself call conversations.services."""

    class Meta:
        model = Conversation
        skip_postgeneration_save = True

    kind = Conversation.Kind.DIRECT
    direct_key = factory.LazyAttributeSequence(
        lambda conversation, n: (
            f"factory:{n}" if conversation.kind == Conversation.Kind.DIRECT else None
        )
    )

    @factory.post_generation
    def members(self, create, extracted, **kwargs):
        members = list(extracted or [])
        if not create:
            return
        if self.kind == Conversation.Kind.DIRECT and len(members) == 2:
            self.direct_key = Conversation.direct_key_for(members[0].pk, members[1].pk)
            self.save(update_fields=["direct_key"])
        for member in members:
            Membership.objects.create(conversation=self, user=member)
