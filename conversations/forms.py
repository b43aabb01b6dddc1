from django import forms
from django.core.exceptions import ValidationError

from chatproject.ids import parse_id
from users.models import User


class UserIdsField(forms.ModelMultipleChoiceField):
    """A value that cannot be a user id ("²", "-1", 23 digits) is an invalid
    choice before any query: looking it up overflowed the database's integer
    (a 500)."""

    def _check_values(self, value):
        for pk in value:
            if parse_id(str(pk)) is None:
                raise ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        return super()._check_values(value)


class NewConversationForm(forms.Form):
    users = UserIdsField(
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="People",
        help_text="One person starts a direct conversation; more start a group.",
    )
    title = forms.CharField(max_length=200, required=False, label="Group title (optional)")

    def __init__(self, *args, me: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["users"].queryset = User.objects.filter(is_active=True).exclude(pk=me.pk)
