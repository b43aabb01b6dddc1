"""Create N benchmark users, each with an API token, straight in the database
the servers use (DATABASE_URL), and write `user_id token` lines to a file.

Signing up over the API hashes each password with Argon2 (tens of ms, on the
server's one sync thread): thousands of users that way take minutes. These
users get an unusable password; their tokens are issued by users.services.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chat_bench \\
        .venv/bin/python bench/provision.py --users 5000 --out var/bench/tokens.txt
"""

import argparse
import os
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def provision(count: int, out: Path, batch: int = 1000) -> list[tuple[str, str]]:
    from django.db import transaction

    from chatproject.keys import hash_secret, new_secret, prefix_of
    from users.models import ApiToken, User

    run = uuid.uuid4().hex[:8]
    pairs: list[tuple[str, str]] = []
    for start in range(0, count, batch):
        with transaction.atomic():
            users = User.objects.bulk_create(
                [
                    User(
                        username=f"bench_{run}_{index}",
                        display_name=f"Bench {index}",
                        password="!",  # unusable: these users sign in with their token only
                    )
                    for index in range(start, min(count, start + batch))
                ]
            )
            keys = [new_secret() for _ in users]
            ApiToken.objects.bulk_create(
                [
                    ApiToken(
                        user=user, key_hash=hash_secret(key), prefix=prefix_of(key), name="bench"
                    )
                    for user, key in zip(users, keys, strict=True)
                ]
            )
            pairs += [(str(user.pk), key) for user, key in zip(users, keys, strict=True)]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(f"{user_id} {key}\n" for user_id, key in pairs))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatproject.settings")
    import django

    django.setup()
    provision(args.users, args.out)
    print(f"{args.users} users with tokens in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
