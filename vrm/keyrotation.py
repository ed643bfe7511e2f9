"""Re-encrypting every stored ciphertext under the active key, in small batches.

Each batch is its own short write transaction and each row is updated only if it still
holds the ciphertext that was read, so the service keeps running and no concurrent edit
is overwritten.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Engine, func, select, update

from vrm.crypto import Keyring, aad_for
from vrm.db import encrypted_columns

BATCH = 500
MAX_PASSES = 20


def count_by_key(engine: Engine) -> dict[str, int]:
    """How many stored values each key id protects."""
    counts: Counter[str] = Counter()
    with engine.connect() as connection:
        for table, column in encrypted_columns():
            col = table.c[column]
            kid = (
                func.substr(col, 1, func.instr(col, ":") - 1)
                if engine.dialect.name == "sqlite"
                else func.split_part(col, ":", 1)
            )
            for key_id, n in connection.execute(
                select(kid, func.count()).where(col.is_not(None)).group_by(kid)
            ):
                counts[key_id] += n
    return dict(counts)


def reencrypt_all(engine: Engine, keyring: Keyring) -> int:
    """Move every value to the active key; returns how many were rewritten."""
    rewritten = 0
    for _ in range(MAX_PASSES):
        active = keyring.active_kid
        moved = 0
        for table, column in encrypted_columns():
            col = table.c[column]
            while True:
                with engine.connect() as reader:
                    rows = reader.execute(
                        select(table.c.id, col)
                        .where(col.is_not(None), ~col.startswith(active + ":", autoescape=True))
                        .limit(BATCH)
                    ).all()
                if not rows:
                    break
                with engine.connect() as connection:
                    with connection.execution_options(vrm_write=True).begin():
                        for row_id, old in rows:
                            aad = aad_for(table.name, column, row_id)
                            new = keyring.encrypt(keyring.decrypt(old, aad), aad)
                            result = connection.execute(
                                update(table)
                                .where(table.c.id == row_id, col == old)
                                .values({column: new})
                            )
                            moved += result.rowcount
                if len(rows) < BATCH:
                    break
        rewritten += moved
        if moved == 0:
            break
    return rewritten


def assert_unused(engine: Engine, kid: str) -> None:
    left = count_by_key(engine).get(kid, 0)
    if left:
        raise RuntimeError(f"{left} stored values still use key {kid}; run `vrm keys rotate` first")
