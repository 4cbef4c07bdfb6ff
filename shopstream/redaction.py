"""Secrets hidden from whatever is shown: banners, ``/health``, ``/metrics`` and error
lines. The one implementation: the stores' :func:`~shopstream.stores.open.redact_url`
and the shop database's :func:`~shopstream.shopdb.connection.redact` are this
:func:`redact`, and PostgreSQL error lines hide passwords through :func:`secrets_of`.
A URL whose path or query may be the secret (a webhook's: Slack-style hooks carry their
token in the path) is shown by :func:`url_origin` alone (:func:`hide_url` in messages).

Examples
--------
The password of a URL, whatever it holds (``@`` and ``:`` too); a lone user part of a
Redis URL may be a token, that of a PostgreSQL URL is a user name:

>>> redact("redis://shop:s3@cr:et@cache:6379/0")
'redis://shop:***@cache:6379/0'
>>> redact("rediss://token@cache"), redact("postgresql://shop@db/shop")
('rediss://***@cache', 'postgresql://shop@db/shop')

Key=value passwords, quoted or not, and query parameters, in free text as well:

>>> redact("host=db password='s3cret word' dbname=shop")
'host=db password=*** dbname=shop'
>>> redact("cannot read 'redis://cache:6380?password=x&db=1': refused")
"cannot read 'redis://cache:6380?password=***&db=1': refused"
"""

from __future__ import annotations

import re

__all__ = ["hide_secrets", "hide_url", "redact", "secrets_of", "url_origin"]

# scheme://USERINFO@. A candidate runs to the last "@" before a blank, a quote, another
# "://" or the end; what it is (see _userinfo):
# - no "/", "?" or "#" in it: the user information (as urllib and redis-py read it), so
#   a password holding "@" or ":" is hidden whole;
# - else its authority (the part before the first "/", "?", "#") holds an "@": the
#   user information runs to that "@" (https://u:p@host/a@b);
# - else it is the user information when the scheme carries credentials and never has
#   "@" in a path (Redis, PostgreSQL: redis://u:p/w@h), or when its authority holds a
#   ":" that is not a port (s3://AKIA:ab/cd@bucket: AWS secret keys hold "/"; an s3://
#   authority has no port, so s3://AKIA:12/cd@bucket too);
# - else it is no user information: a path with "@" (https://host/a@b,
#   https://host:443/a@b, s3://bucket/a@b/key) is left as it is.
_CANDIDATE = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)"
                        r"(?P<info>(?:(?!://)[^\s'\"])*)@")
_CREDENTIAL_SCHEMES = frozenset({"redis://", "rediss://", "postgres://", "postgresql://"})
_SPLIT = re.compile(r"[/?#]")
_PORT = re.compile(r"[^:]*:[0-9]{1,5}")
_NO_PORT_SCHEMES = frozenset({"s3://"})
# password=... (libpq's sslpassword too): a query parameter ends at "&"; a key=value
# value is quoted (libpq's backslash escapes inside) or runs to the next blank.
_QUERY_PARAM = re.compile(r"(?P<key>[?&](?:ssl)?password=)[^\s&#'\"]*", re.IGNORECASE)
_KV_PARAM = re.compile(r"(?P<key>(?<![?&])\b(?:ssl)?password\s*=\s*)"
                       r"(?P<value>'(?:[^'\\]|\\.)*(?:'|$)|(?:[^\s\\]|\\.)*)", re.IGNORECASE)
# scheme://AUTHORITY then the path, query and fragment (REST).
_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<authority>[^/?#]*)(?P<rest>.*)",
                  re.DOTALL)
# A fragment libpq quotes in its reason (the DSN piece it could not parse, a host name).
_QUOTED = re.compile(r'"([^"]*)"')


def _userinfo(match: re.Match[str]) -> str | None:
    """The user information of a :data:`_CANDIDATE` match (the rules above), or ``None``."""
    scheme, info = match.group("scheme").lower(), match.group("info")
    authority = _SPLIT.split(info, maxsplit=1)[0]
    if authority == info:
        return info
    if "@" in authority:
        return authority.rpartition("@")[0]
    port = scheme not in _NO_PORT_SCHEMES and _PORT.fullmatch(authority)
    if scheme in _CREDENTIAL_SCHEMES or (":" in authority and not port):
        return info
    return None


def _hide_userinfo(match: re.Match[str]) -> str:
    scheme, info = match.group("scheme"), _userinfo(match)
    if info is None:
        return match.group(0)
    after = match.group(0)[len(scheme) + len(info) + 1:]  # the rest of a path with "@"
    user, colon, _ = info.partition(":")
    if colon:
        return f"{scheme}{user}:***@{after}"
    if scheme.lower().startswith("postgres"):
        return match.group(0)  # libpq: a lone user part is the user name
    return f"{scheme}***@{after}"


def redact(text: str) -> str:
    """``text`` (a URL, a DSN, or a message quoting them) with every password replaced
    by ``***``.

    Examples
    --------
    >>> redact("postgresql://shop:pa%20ss@db/shop"), redact("redis://:pass@h")
    ('postgresql://shop:***@db/shop', 'redis://:***@h')
    >>> redact("/data/features.db")
    '/data/features.db'

    A secret key holding ``/`` is hidden whole; a path holding ``@`` is no password:

    >>> redact("s3://AKIA:ab/cd@bucket/p"), redact("https://host/a@b")
    ('s3://AKIA:***@bucket/p', 'https://host/a@b')
    """
    text = _CANDIDATE.sub(_hide_userinfo, text)
    return _KV_PARAM.sub(r"\g<key>***", _QUERY_PARAM.sub(r"\g<key>***", text))


def secrets_of(dsn: str, parsed: str | None = None) -> list[str]:
    """The passwords ``dsn`` may hold as a client reads them: ``parsed`` (what libpq
    parsed, when it could), the raw value of each password in it, and, for a
    ``password=`` libpq could not parse (``parsed`` ``None``), every word after the key
    (an unquoted password with a blank in it), longest first.

    Examples
    --------
    >>> secrets_of("postgresql://u:p@ss@db/x", parsed="p")
    ['p@ss', 'ss', 'p']
    >>> secrets_of("host=db password=s3cret word")
    ['s3cret', 'word']
    """
    found = {parsed} if parsed else set()
    for match in _CANDIDATE.finditer(dsn):
        found.add((_userinfo(match) or "").partition(":")[2])
    for match in _KV_PARAM.finditer(dsn):
        found.add(match.group("value").strip("'"))
        if parsed is None:
            found.update(dsn[match.start("value"):].split())
    pieces = {piece for secret in found for piece in re.split(r"[@\s]", secret)}
    return sorted({s.strip("'\"") for s in found | pieces} - {""}, key=lambda s: (-len(s), s))


def hide_secrets(text: str, secrets: list[str]) -> str:
    """``text`` with each of ``secrets`` (longest first) hidden: a fragment in double
    quotes that holds one becomes ``"***"`` (libpq quotes what it could not parse, or
    a host name read from a password holding ``@``), and, outside quotes, a secret of 2
    characters or more is replaced where it stands as a word. Then :func:`redact`.

    Examples
    --------
    >>> hide_secrets('could not translate host name "ss@127.0.0.1" to address',
    ...              secrets_of("postgresql://u:p@ss@127.0.0.1/x", parsed="p"))
    'could not translate host name "***" to address'
    """
    def quoted(match: re.Match[str]) -> str:
        inside = match.group(1)
        hidden = any(s == inside or (len(s) >= 2 and s in inside) for s in secrets)
        return '"***"' if inside and hidden else match.group(0)

    text = _QUOTED.sub(quoted, text)
    for secret in secrets:
        if len(secret) >= 2:
            text = re.sub(rf"(?<!\w){re.escape(secret)}(?!\w)", "***", text)
    return redact(text)


def url_origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, then ``/...`` for a path, query or fragment,
    whatever they hold; the user information is left out. Not a URL: ``***``.

    Examples
    --------
    >>> url_origin("https://hooks.slack.com/services/T000/B000/XXXX")
    'https://hooks.slack.com/...'
    >>> url_origin("http://u:pw@127.0.0.1:8080/alerts?token=abc"), url_origin("http://h:1")
    ('http://127.0.0.1:8080/...', 'http://h:1')
    >>> url_origin("http://h?token=abc"), url_origin("hooks.example.com/t0ken")
    ('http://h/...', '***')
    """
    match = _URL.fullmatch(url)
    if match is None:
        return "***"
    host = match.group("authority").rpartition("@")[2]
    rest = match.group("rest")
    return f"{match.group('scheme')}{host}{'/...' if rest.strip('/') else rest}"


def hide_url(text: str, url: str) -> str:
    """``text`` with ``url`` shown as :func:`url_origin` shows it, and its path and query
    hidden where they stand alone (as ``urllib`` quotes the request path in an error).

    Examples
    --------
    >>> hide_url("URL can't contain control characters. '/hook/t0k en' (found at least ' ')",
    ...          "http://127.0.0.1/hook/t0k en")
    "URL can't contain control characters. '/...' (found at least ' ')"
    """
    match = _URL.fullmatch(url)
    if match is None:
        return text.replace(url, "***") if url else text
    text = text.replace(url, url_origin(url))
    rest = match.group("rest")
    return text.replace(rest, "/...") if rest.strip("/") else text
