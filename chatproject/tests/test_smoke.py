from tests.support.factories import UserFactory


def test_factory_makes_a_user_who_can_sign_in(db, api_client):
    user = UserFactory()
    response = api_client.post(
        "/api/auth/token",
        {"username": user.username, "password": "correct-horse-battery-staple"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["user"]["id"] == str(user.pk)
