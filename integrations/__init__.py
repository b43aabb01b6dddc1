"""The message-history endpoints of four other chat products (seeds 001-004),
served at their documented paths with their documented authentication, query
parameters, response shapes and error shapes, from the same models as the
native API. One module per seed, each thin: parse the request, authorise the
API key, call selectors, render. docs/compat.md documents them.
"""
