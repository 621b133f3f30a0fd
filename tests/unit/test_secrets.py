"""Secret masking and file exclusion: planted secrets never survive, ordinary code is untouched."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from deepseek_lsp.secrets import DEFAULT_EXCLUDES, find_secrets, is_excluded, mask_secrets, restore_secrets

SK = "sk-" + "4f9a2b7c1d3e5f60718293a4b5c6d7e8"
AKIA = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
PEM_BODY = [
    "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi1GxZ5ZOWzIBaZTnHrG8XMc2cA",
    "c2cAMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi1GxZ5ZOWzIBaZTnHrG8XM",
    "Qyuv1GxZ5ZOWzIBaZTnHrG8XMc2cAMIIEpAIBAAKCAQEA3Tz2mr7SZiAMf0j9K2a",
]
PEM = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(PEM_BODY) + "\n-----END RSA PRIVATE KEY-----\n"


@pytest.mark.parametrize(
    ("text", "secret", "kind"),
    [
        (f'DEEPSEEK_API_KEY = "{SK}"\n', SK, "sk"),
        (f"client = OpenAI(api_key='{SK}')\n", SK, "sk"),
        (f"aws_access_key_id = {AKIA}\n", AKIA, "aws-key-id"),
        (f"aws_secret_access_key = {AWS_SECRET}\n", AWS_SECRET, "aws-secret"),
        (
            'GH = "ghp_' + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8" + '"\n',
            "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
            "github",
        ),
        (
            "t = 'github_pat_" + "11ABCDEFG0123456789abcdefghijkl" + "'\n",
            "11ABCDEFG0123456789abcdefghijkl",
            "github",
        ),
        ('SLACK = "xoxb-' + "123456789012-abcdefABCDEF" + '"\n', "123456789012-abcdefABCDEF", "slack"),
        (
            'maps = "AIza' + "SyA1234567890abcdefghijklmnopqrstuv" + '"\n',
            "SyA1234567890abcdefghijklmnopqrstuv",
            "google",
        ),
        (
            'jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"',
            "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "jwt",
        ),
        ('h = {"Authorization": "Bearer abcDEF1234567890ghiJKL"}', "abcDEF1234567890ghiJKL", "bearer"),
        ('url = "postgres://admin:hunter2x9@db.internal/app"', "hunter2x9", "password"),
        ('password = "correct-Horse-9"\n', "correct-Horse-9", "secret"),
        ('config = {"client_secret": "9f8e7d6c5b4a39281706"}\n', "9f8e7d6c5b4a39281706", "secret"),
        ("DB_PASSWORD=abcd1234efgh5678ijkl\n", "abcd1234efgh5678ijkl", "secret"),
        ("api_token: Zm9vYmFyYmF6cXV4MTIzNDU2\n", "Zm9vYmFyYmF6cXV4MTIzNDU2", "secret"),
    ],
)
def test_planted_secret_is_masked(text: str, secret: str, kind: str) -> None:
    masked, count = mask_secrets(text)
    assert secret not in masked
    assert f"<masked:{kind}>" in masked
    assert count == 1


def test_pem_private_key_body_is_masked_whole() -> None:
    text = f'KEY = """{PEM}"""\nx = 1\n'
    masked, count = mask_secrets(text)
    assert count == 1
    assert all(line not in masked for line in PEM_BODY)
    assert "-----BEGIN RSA PRIVATE KEY-----\n<masked:private-key>\n-----END RSA PRIVATE KEY-----" in masked
    assert masked.endswith('"""\nx = 1\n')


@pytest.mark.parametrize(
    "fragment",
    [
        "\n".join(PEM_BODY[:2]) + "\n",  # body lines only: a selection inside the key
        "\n".join(PEM_BODY[1:]) + "\n-----END RSA PRIVATE KEY-----\n",  # tail without BEGIN
        "-----BEGIN OPENSSH PRIVATE KEY-----\n" + PEM_BODY[0] + "\n",  # head without END
        '"-----BEGIN PRIVATE KEY-----\\n' + PEM_BODY[0] + '\\n-----END PRIVATE KEY-----\\n"',  # escaped
    ],
)
def test_fragments_of_a_private_key_are_masked(fragment: str) -> None:
    masked, count = mask_secrets(fragment)
    assert count >= 1
    assert all(line not in masked for line in PEM_BODY)


def test_masking_is_deterministic_and_idempotent() -> None:
    text = f'a = "{SK}"\nb = "{SK}"\n{PEM}aws_access_key_id = {AKIA}\n'
    first, count = mask_secrets(text)
    assert count == 4
    assert mask_secrets(text) == (first, count)
    assert mask_secrets(first) == (first, 0)
    assert first.count("<masked:sk>") == 2


def test_spans_do_not_overlap() -> None:
    text = f'api_key = "{SK}"\n'
    spans = find_secrets(text)
    assert [(s.kind, text[s.start : s.end]) for s in spans] == [("sk", SK)]


NORMAL_CODE = """
import os

TOKEN_TYPE = "access_token"
SECRET_KEY_ENV = "SECRET_KEY"
api_key = os.environ["DEEPSEEK_API_KEY"]
token = tokens[index]
password_hash = hash_password(password)
secret = settings.secret_key
key = "user_name"
headers = {"Authorization": f"Bearer {api_key}"}
url = "https://user:{password}@example.com"
tokenizer = "sentencepiece_model"
placeholder = "sk-..."
MAX_TOKENS = 4096
sha = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
for key, value in data.items():
    print(key, value)
"""


def test_ordinary_code_is_left_alone() -> None:
    assert mask_secrets(NORMAL_CODE) == (NORMAL_CODE, 0)


def test_standard_library_has_no_false_positives() -> None:
    root = Path(sysconfig.get_paths()["stdlib"])
    names = [
        "textwrap.py",
        "argparse.py",
        "json/decoder.py",
        "http/client.py",
        "urllib/parse.py",
        "base64.py",
    ]
    for name in names:
        text = (root / name).read_text(encoding="utf-8")
        assert find_secrets(text) == [], name


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.local",
        "/home/me/proj/.env.production",
        "/home/me/proj/certs/server.pem",
        "C:\\Users\\me\\proj\\tls\\server.key",
        "/home/me/.ssh/id_rsa",
        "/home/me/.ssh/id_ed25519.pub",
        "deploy/store.p12",
        "/p/.npmrc",
        "/p/.pypirc",
        "/p/config/secrets.yaml",
        "/p/CREDENTIALS.json",
    ],
)
def test_default_excludes_match(path: str) -> None:
    assert is_excluded(path, DEFAULT_EXCLUDES)


@pytest.mark.parametrize("path", ["main.py", "/p/environment.py", "/p/src/keys.py", "/p/README.md", ""])
def test_default_excludes_spare_ordinary_files(path: str) -> None:
    assert not is_excluded(path, DEFAULT_EXCLUDES)


def test_patterns_match_relative_subpaths() -> None:
    assert is_excluded("/home/me/proj/config/prod.json", ["config/*.json"])
    assert not is_excluded("/home/me/proj/prod.json", ["config/*.json"])
    assert is_excluded("/home/me/proj/private/notes.md", ["private/**"])
    assert not is_excluded("/home/me/proj/a.py", [])


def test_restore_secrets_puts_the_originals_back_in_order() -> None:
    original = f'a = "{SK}"\nb = "{SK[:-1]}0"\n{PEM}'
    masked, _ = mask_secrets(original)
    rewritten = masked.replace("a = ", "first = ").replace("b = ", "second = ")
    assert restore_secrets(rewritten, original) == original.replace("a = ", "first = ").replace(
        "b = ", "second = "
    )
    assert restore_secrets("x = '<masked:sk>' + '<masked:sk>' + '<masked:sk>'", f'k = "{SK}"') == (
        f"x = '{SK}' + '<masked:sk>' + '<masked:sk>'"
    )
    assert restore_secrets("no placeholders", "no secrets") == "no placeholders"
