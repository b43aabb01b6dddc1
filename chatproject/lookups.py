"""Text lookups that a string with a NUL character cannot match.

PostgreSQL text cannot hold U+0000, and psycopg refuses a query parameter
that has one: a NUL in a token in a path, a query parameter, a header or a
cookie that reached a lookup was a 500 (issue 10 item 9). As no stored value
can contain a NUL, such a comparison matches no row, and these lookups say so
without asking the database, as Django does for `__in=[]` (EmptyResultSet):
the caller sees "not found" (a 404, an unknown key, a translation that does
not exist), on every database. Registered on CharField and TextField (and so
on their subclasses) by ChatProjectConfig.ready().

Only lookups for which "matches nothing" is exact are replaced (equality and
the substring ones); a regex or an ordering comparison with a NUL is left to
the database. Writes are not covered: input that is stored goes through
serializer or form fields, which refuse NUL characters."""

from django.core.exceptions import EmptyResultSet
from django.db.models import CharField, TextField, lookups

NUL = "\x00"


def contains_nul(value: object) -> bool:
    return isinstance(value, str) and NUL in value


class MatchesNothingWithNul:
    """A lookup whose value, when it contains a NUL, matches no row."""

    def as_sql(self, compiler, connection):
        if self.rhs_is_direct_value() and contains_nul(self.rhs):
            raise EmptyResultSet
        return super().as_sql(compiler, connection)


class Exact(MatchesNothingWithNul, lookups.Exact):
    pass


class IExact(MatchesNothingWithNul, lookups.IExact):
    pass


class Contains(MatchesNothingWithNul, lookups.Contains):
    pass


class IContains(MatchesNothingWithNul, lookups.IContains):
    pass


class StartsWith(MatchesNothingWithNul, lookups.StartsWith):
    pass


class IStartsWith(MatchesNothingWithNul, lookups.IStartsWith):
    pass


class EndsWith(MatchesNothingWithNul, lookups.EndsWith):
    pass


class IEndsWith(MatchesNothingWithNul, lookups.IEndsWith):
    pass


class In(lookups.In):
    """`__in`: the values with a NUL are dropped (no row has them); none left
    is Django's own EmptyResultSet."""

    def process_rhs(self, compiler, connection):
        if self.rhs_is_direct_value():
            self.rhs = [value for value in self.rhs if not contains_nul(value)]
        return super().process_rhs(compiler, connection)


NUL_SAFE_LOOKUPS = (
    Exact,
    IExact,
    Contains,
    IContains,
    StartsWith,
    IStartsWith,
    EndsWith,
    IEndsWith,
    In,
)


def register() -> None:
    for field in (CharField, TextField):
        for lookup in NUL_SAFE_LOOKUPS:
            field.register_lookup(lookup)
