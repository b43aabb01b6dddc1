from django import forms

from users.models import User


class NewConversationForm(forms.Form):
    users = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="People",
        help_text="One person starts a direct conversation; more start a group.",
    )
    title = forms.CharField(max_length=200, required=False, label="Group title (optional)")

    def __init__(self, *args, me: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["users"].queryset = User.objects.filter(is_active=True).exclude(pk=me.pk)
