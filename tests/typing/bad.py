"""Wrong calls: mypy and pyright must report an error on every line marked ``# error``."""

from __future__ import annotations

from litequeue import AsyncResult, LiteQueue, Task

app = LiteQueue("typing.sqlite")


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task(name="typed.greet")
def greet(name: str, *, punctuation: str = "!") -> str:
    return f"hello {name}{punctuation}"


@app.task(bind=True)
def bound(self: Task, key: str) -> list[str]:
    return [key]


def misuses() -> None:
    add.delay("a", None, 3)  # error
    add.delay(1)  # error
    add.delay(1, z=2)  # error
    greet.delay(3)  # error
    greet.delay("ann", "?")  # error
    bound.delay(1)  # error
    add(1, "2")  # error
    add.s("x", 2)  # error
    text: str = add.delay(1, 2).get()  # error
    number: int = greet.delay("x").get()  # error
    wrong: AsyncResult[str] = add.delay(1, 2)  # error
    add.apply_async(5)  # error
    add.apply_async((1, 2), [("y", 2)])  # error
    add.apply_async((1,), {1: 2})  # error
    late: str = add.apply_async((1, 2), countdown=5).get()  # error
    add.s("x", 2).apply_async(countdown=5)  # error
    add.si(1)  # error
    sent: str = add.s(1, 2).apply_async(countdown=5).get()  # error
    print(text, number, wrong, late, sent)


async def misuses_async() -> None:
    await add.adelay("x", 2)  # error
    value: str = await add.delay(1, 2).aget()  # error
    print(value)
