"""Correct calls: mypy and pyright must accept every line (tests/test_typing.py)."""

from __future__ import annotations

from litequeue import AsyncResult, LiteQueue, Task

app = LiteQueue("typing.sqlite")


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task(name="typed.greet", max_retries=2)
def greet(name: str, *, punctuation: str = "!") -> str:
    return f"hello {name}{punctuation}"


@app.task(bind=True)
def bound(self: Task, key: str) -> list[str]:
    return [key, str(self.request.retries)]


def uses() -> None:
    r1: AsyncResult[int] = add.delay(2, 3)
    total: int = r1.get(timeout=1) + 1
    r2: AsyncResult[str] = greet.delay("ann", punctuation="?")
    text: str = r2.get()
    words: list[str] = bound.delay("k").get()
    direct: int = add(1, 2)
    r3: AsyncResult[int] = add.apply_async((1, 2), countdown=5, priority=3)
    sig = add.s(1, 2)
    results: list[AsyncResult[int]] = add.map([1, 2])
    # Arguments checked and options given: the signature route (s() is checked, then sent with options).
    r4: AsyncResult[int] = add.s(1, 2).apply_async(countdown=5, priority=3)
    r5: AsyncResult[int] = add.s(1, 2).delay()
    r6: AsyncResult[str] = greet.si("ann", punctuation="?").apply_async(queue="greetings")
    r7: AsyncResult[int] = add.apply_async([1, 2], {}, countdown=1)
    print(total, text, words, direct, r3, sig, results, r4, r5, r6, r7)


async def uses_async() -> None:
    r: AsyncResult[int] = await add.adelay(1, 2)
    value: int = await r.aget(timeout=5)
    r2: AsyncResult[str] = await greet.aapply_async(("bob",))
    print(value, r2)
