import pytest

from ascendkit_site import queue

pytestmark = pytest.mark.django_db

STITCH = "analytics.tasks.stitch_visitor"
DISPATCH = "analytics.tasks.outbox_dispatch"


def test_tasks_queued_while_held_are_collected_once_each_not_run(monkeypatch, django_capture_on_commit_callbacks):
    published = []
    monkeypatch.setattr(queue, "enqueue_now", lambda task, *args: published.append((task.name, args)))

    with queue.tasks_held() as held, django_capture_on_commit_callbacks(execute=True):
        queue.enqueue_on_commit(STITCH, 7)
        queue.enqueue_on_commit(DISPATCH)
        queue.enqueue_on_commit(STITCH, 7)
        queue.enqueue_on_commit(STITCH, 8)

    assert list(held) == [(STITCH, (7,)), (DISPATCH, ()), (STITCH, (8,))]
    assert published == []


def test_tasks_are_published_again_once_the_hold_ends(monkeypatch, django_capture_on_commit_callbacks):
    published = []
    monkeypatch.setattr(queue, "enqueue_now", lambda task, *args: published.append((task.name, args)))
    with queue.tasks_held():
        pass

    with django_capture_on_commit_callbacks(execute=True):
        queue.enqueue_on_commit(STITCH, 7)

    assert published == [(STITCH, (7,))]


def test_holds_do_not_nest():
    with queue.tasks_held(), pytest.raises(RuntimeError), queue.tasks_held():
        pass
