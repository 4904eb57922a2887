"""Socket.IO namespace /proctor: one room per sitting."""

from flask_login import current_user
from flask_socketio import Namespace, join_room

from ..errors import BadPayload
from ..exam import service as exam_service
from ..extensions import socketio
from ..realtime import acked
from . import service


def _sitting_id(data) -> int:
    if not isinstance(data, dict) or type(data.get("sitting")) is not int:
        raise BadPayload(field="sitting")
    return data["sitting"]


class ProctorNamespace(Namespace):
    """Live sitting view."""

    def on_connect(self, auth=None):
        if not service.is_staff(current_user):
            raise ConnectionRefusedError("Proctor login required.")

    @acked
    def on_watch(self, data):
        """A proctor opens a sitting; the ack carries a full snapshot."""
        sitting = service.get_watchable(_sitting_id(data))
        join_room(f"sitting:{sitting.id}")
        return {"ok": True, **service.sitting_snapshot(sitting.id)}

    @acked
    def on_start_sitting(self, data):
        sitting = service.get_watchable(_sitting_id(data))
        reason = data.get("reason") if isinstance(data.get("reason"), str) else None
        exam_service.start_sitting(sitting.id, f"user:{current_user.id}", reason)
        return {"ok": True}


socketio.on_namespace(ProctorNamespace("/proctor"))
