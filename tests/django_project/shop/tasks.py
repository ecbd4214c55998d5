"""Django's own task API: run by litequeue through its django.tasks backend."""

try:
    from django.tasks import task
except ImportError:  # Django before 6: the backport
    from django_tasks import task


@task
def ship(order_id):
    from shop.models import Order

    Order.objects.filter(id=order_id).update(shipped=True)
    return {"shipped": order_id}
