#!/usr/bin/env python3
"""Generates labelled text for Hearth's secret scrubber: positives of every rule kind and hard
negatives (placeholders, references, hashes, look-alikes). Deterministic for a seed.

  generate.py --seed 1 --count 4000 > train.jsonl
  generate.py --seed 2 --count 3000 > heldout.jsonl

Each line: {"text": ..., "kind": rule id or "negative", "secrets": [values that must vanish],
            "name": ..., "value": ...}   (name/value only for assignment-shaped samples, for training)
"""
import argparse, base64, json, random, string

UP, LO, DI = string.ascii_uppercase, string.ascii_lowercase, string.digits
ALNUM = UP + LO + DI
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
HEX = "0123456789abcdef"


def rs(r, alphabet, n):
    return "".join(r.choice(alphabet) for _ in range(n))


PROSE = [
    "Here is the config I used: {}", "The log says {} and then the build failed.", "{}",
    "please check {} before deploying", "# {}", "echo {}", "  {}  ", "value was {} yesterday",
    "see line 42: {}", "I found {} in the old commit", "- {}", "> {}",
]


def prose(r, s):
    return r.choice(PROSE).format(s)


def iban(r):
    country, length = r.choice([("DE", 22), ("GB", 22), ("FR", 27), ("NL", 18), ("ES", 24), ("IT", 27), ("CH", 21), ("BE", 16)])
    if country == "GB" or country == "NL":
        bban = rs(r, UP, 4) + rs(r, DI, length - 8)
    elif country == "IT":
        bban = rs(r, UP, 1) + rs(r, DI, length - 5)
    else:
        bban = rs(r, DI, length - 4)
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    value = f"{country}{check:02d}{bban}"
    if r.random() < 0.4:
        value = " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return value


def pem(r, label):
    lines = [rs(r, B64, 64) for _ in range(r.randint(3, 12))] + [rs(r, B64, r.randint(8, 63)) + "=="]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----"


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt(r):
    header = b64url(json.dumps({"alg": r.choice(["HS256", "RS256"]), "typ": "JWT"}).encode())
    payload = b64url(json.dumps({"sub": rs(r, DI, 8), "name": rs(r, LO, 6), "iat": r.randint(10**9, 2 * 10**9)}).encode())
    return f"{header}.{payload}.{b64url(bytes(r.getrandbits(8) for _ in range(32)))}"


WORDS = ["summer", "dragon", "monkey", "castle", "purple", "tiger", "winter", "falcon", "garden", "rocket", "silver", "ocean"]


def secret_value(r):
    k = r.random()
    if k < 0.25:
        return rs(r, ALNUM, r.randint(16, 40))
    if k < 0.45:
        return rs(r, B64, r.randint(24, 60)) + r.choice(["", "=", "=="])
    if k < 0.60:
        return rs(r, HEX, r.choice([32, 40, 48, 64]))
    if k < 0.75:
        return r.choice(WORDS).capitalize() + rs(r, DI, r.randint(2, 4)) + r.choice("!@#$%&*?")+ rs(r, ALNUM, r.randint(0, 4))
    if k < 0.88:
        return rs(r, ALNUM + "!#%&*+-=?^_~", r.randint(10, 24))
    return rs(r, B64URL, r.randint(20, 48))


SECRET_NAMES = ["password", "db_password", "DB_PASSWORD", "api_key", "apiKey", "API_KEY", "secret", "client_secret",
                "auth_token", "access_token", "SECRET_KEY", "token", "passwd", "pwd", "private_key", "credentials",
                "app_secret", "ACCESS_TOKEN", "refresh_token", "bearer_token", "signing_key", "master_key", "apikey"]


def assignment(r, name, value):
    form = r.randrange(9)
    if form == 0: return f'{name} = "{value}"'
    if form == 1: return f"{name}: {value}"
    if form == 2: return f'"{name}": "{value}"'
    if form == 3: return f"export {name}={value}"
    if form == 4: return f'{name} := "{value}"'
    if form == 5: return f"${name} = '{value}';"
    if form == 6: return f"'{name}' => '{value}',"
    if form == 7: return f"{name}={value}"
    return f"  {name}: '{value}'"


def positive(r):
    kind = r.choice(["aws_access_key", "aws_secret_key", "gcp_api_key", "gcp_service_account", "github_token",
                     "gitlab_token", "slack_token", "stripe_key", "private_key", "jwt", "email", "iban",
                     "generic_secret", "generic_secret", "generic_secret"])
    if kind == "aws_access_key":
        v = r.choice(["AKIA", "ASIA"]) + rs(r, UP + "234567", 16)
        return kind, r.choice([prose(r, v), assignment(r, "aws_access_key_id", v), f"export AWS_ACCESS_KEY_ID={v}"]), [v], None
    if kind == "aws_secret_key":
        v = rs(r, B64, 40)
        name = r.choice(["aws_secret_access_key", "AWS_SECRET_ACCESS_KEY", "SecretAccessKey", "aws_secret_key"])
        return kind, assignment(r, name, v), [v], None
    if kind == "gcp_api_key":
        v = "AIza" + rs(r, B64URL, 35)
        return kind, r.choice([prose(r, v), f"https://maps.googleapis.com/maps/api/js?key={v}", assignment(r, "GOOGLE_API_KEY", v)]), [v], None
    if kind == "gcp_service_account":
        kid = rs(r, HEX, 40)
        key = pem(r, "PRIVATE KEY")
        body = key.replace("\n", "\\n")
        text = json.dumps({"type": "service_account", "project_id": "proj-" + rs(r, LO, 6), "private_key_id": kid})[:-1] + \
            f', "private_key": "{body}\\n", "client_id": "{rs(r, DI, 21)}"}}'
        return kind, text, [kid, key.split("\n")[1]], None
    if kind == "github_token":
        if r.random() < 0.3:
            v = "github_pat_" + rs(r, ALNUM, 22) + "_" + rs(r, ALNUM, 59)
        else:
            v = r.choice(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) + rs(r, ALNUM, 36)
        return kind, r.choice([prose(r, v), f"git clone https://{v}@github.com/acme/app.git", assignment(r, "GITHUB_TOKEN", v)]), [v], None
    if kind == "gitlab_token":
        v = "glpat-" + rs(r, B64URL, 20)
        return kind, r.choice([prose(r, v), assignment(r, "GITLAB_TOKEN", v)]), [v], None
    if kind == "slack_token":
        v = r.choice(["xoxb-", "xoxp-", "xoxa-", "xoxs-"]) + rs(r, DI, r.randint(10, 13)) + "-" + rs(r, DI, r.randint(10, 13)) + "-" + rs(r, ALNUM, 24)
        return kind, r.choice([prose(r, v), assignment(r, "SLACK_BOT_TOKEN", v)]), [v], None
    if kind == "stripe_key":
        v = r.choice(["sk_live_", "sk_test_", "rk_live_", "rk_test_"]) + rs(r, ALNUM, r.randint(24, 99))
        return kind, r.choice([prose(r, v), assignment(r, "STRIPE_KEY", v), f"stripe.api_key = '{v}'"]), [v], None
    if kind == "private_key":
        k = pem(r, r.choice(["RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY"]))
        return kind, r.choice(["{}", "cat id_rsa\n{}\n$ ", "key:\n{}\n"]).format(k), [k.split("\n")[1]], None
    if kind == "jwt":
        v = jwt(r)
        return kind, r.choice([prose(r, v), f"Authorization: Bearer {v}", assignment(r, "session", v)]), [v], None
    if kind == "email":
        v = f"{r.choice(['john', 'mary', 'a.b', 'dev-ops', 'x_y', 'first.last', 'ops+alerts'])}{rs(r, DI, r.randint(0, 3))}@{r.choice(['example.com', 'acme.io', 'mail.co.uk', 'corp.internal.net', 'gmail.com', 'uni-berlin.de'])}"
        return kind, r.choice([prose(r, v), f"From: Someone <{v}>", f"contact {v}, thanks", f"git config user.email {v}"]), [v], None
    if kind == "iban":
        v = iban(r)
        return kind, r.choice([prose(r, v), f"IBAN: {v}", f"please wire to {v} by Friday"]), [v], None
    name, v = r.choice(SECRET_NAMES), secret_value(r)
    return "generic_secret", assignment(r, name, v), [v], (name, v)


NEG_VALUES = [
    lambda r: "os.environ['" + r.choice(SECRET_NAMES).upper() + "']", lambda r: "${" + r.choice(SECRET_NAMES).upper() + "}",
    lambda r: "YOUR_API_KEY_HERE", lambda r: "<your-token>", lambda r: "changeme", lambda r: "getpass.getpass()",
    lambda r: "request.headers.get('Authorization')", lambda r: "None", lambda r: "null", lambda r: "********",
    lambda r: "x" * r.randint(8, 32), lambda r: "$(cat /run/secrets/" + r.choice(LO) * 3 + ")", lambda r: "/etc/app/secret.txt",
    lambda r: str(r.randint(8, 4096)), lambda r: "bearer", lambda r: "required", lambda r: "string", lambda r: "bcrypt",
    lambda r: "https://oauth2.googleapis.com/token", lambda r: "config.credentials.path", lambda r: "process.env.API_TOKEN",
    lambda r: "settings.SECRET_KEY", lambda r: "REPLACE_ME", lambda r: "<password>", lambda r: "{{ vault_token }}",
    lambda r: "get_secret(name)", lambda r: "self.password", lambda r: "false", lambda r: "true", lambda r: "example-password",
    lambda r: "%(password)s", lambda r: "$DB_PASSWORD", lambda r: "secretsmanager", lambda r: "AutoTokenizer.from_pretrained(model)",
    lambda r: "password_input", lambda r: "tokenize(text)", lambda r: "redacted", lambda r: "dummy-token-value", lambda r: "placeholder",
    lambda r: "keyring.get_password('svc', user)", lambda r: "vault.read('secret/data/app')", lambda r: "sample_secret_value",
    lambda r: "test-token", lambda r: "args.token", lambda r: "TOKEN_PLACEHOLDER", lambda r: "ENV['SECRET_KEY_BASE']",
    lambda r: "/var/run/secrets/kubernetes.io/serviceaccount/token", lambda r: "hashlib.sha256", lambda r: "[]", lambda r: "{}",
]
NEG_NAMES = SECRET_NAMES + ["max_tokens", "token_count", "password_min_length", "tokenizer", "secret_name", "token_type",
                            "password_field", "secret_file", "token_url", "auth_method"]
NEG_PROSE = [
    lambda r: "AKIAIOSFODNN7EXAMPLE is the example key from the AWS docs",
    lambda r: f"commit {rs(r, HEX, 40)} fixed it", lambda r: f"sha256:{rs(r, HEX, 64)}",
    lambda r: "id " + "-".join(rs(r, HEX, n) for n in (8, 4, 4, 4, 12)), lambda r: "tokens start with ghp_ and are 40 characters",
    lambda r: "use sk_test_ keys in CI", lambda r: "ssh user@localhost", lambda r: "icon@2x.png", lambda r: "@decorator\ndef f(): pass",
    lambda r: "send it to foo@bar", lambda r: f"DE00{rs(r, DI, 18)}", lambda r: f"order GB{rs(r, DI, 2)} {rs(r, UP, 4)} {rs(r, DI, 4)}",
    lambda r: pem(r, "CERTIFICATE"), lambda r: pem(r, "PUBLIC KEY"), lambda r: "eyJhbGciOiJIUzI1NiJ9 is a header only",
    lambda r: f"/home/{rs(r, LO, 6)}/src/{rs(r, LO, 8)}.py", lambda r: f"https://example.com/{rs(r, LO, 6)}?page={r.randint(1, 9)}",
    lambda r: "version: 1.2.3", lambda r: "for i in range(10): print(i)", lambda r: f"npm ERR! code E{r.randint(100, 599)}",
    lambda r: f"Step {r.randint(1, 9)}/12 : RUN apt-get install -y curl", lambda r: f"{rs(r, UP, 2)}{rs(r, DI, 2)}{rs(r, DI, 18)}",
    lambda r: "if password == confirm: ok()", lambda r: "the password must be at least 12 characters", lambda r: "token = ''",
    lambda r: f"base64 data: {rs(r, B64, 60)}", lambda r: f"-rw-r--r-- 1 root root {r.randint(1, 99999)} secret.txt",
    lambda r: "x-api-key header is required", lambda r: f"md5 {rs(r, HEX, 32)}", lambda r: "func Token() string { return t.v }",
    lambda r: "Price: 1,234.56 EUR", lambda r: f"ticket ABC-{r.randint(100, 9999)}", lambda r: "xoxb tokens are for bots",
]


def negative(r):
    if r.random() < 0.55:
        name, v = r.choice(NEG_NAMES), r.choice(NEG_VALUES)(r)
        return "negative", assignment(r, name, v), [], (name, v)
    return "negative", r.choice(NEG_PROSE)(r), [], None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--count", type=int, default=3000)
    a = p.parse_args()
    r = random.Random(a.seed)
    for _ in range(a.count):
        kind, text, secrets, nv = positive(r) if r.random() < 0.5 else negative(r)
        row = {"text": text, "kind": kind, "secrets": secrets}
        if nv: row["name"], row["value"] = nv
        print(json.dumps(row))


if __name__ == "__main__":
    main()
