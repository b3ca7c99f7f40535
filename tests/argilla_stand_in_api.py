"""The routes of the Argilla stand-in (tests/argilla_stand_in.py): argilla-server 2.8's rules, in memory.

Each handler takes `(user, body, query, *ids)` and returns `(status, payload)`, or raises `Refused`,
which the server sends as `{"detail": ...}` with its status, as argilla-server does. Rules kept, read
from argilla-server 2.8.0 (`api/handlers/v1`, `api/schemas/v1`, `validators`, `contexts`): datasets
are created as drafts, take fields and questions only while drafts, and publish once they have a field
and a required question; guidelines are null or 1-10,000 characters; record upserts (at most 500) are
matched by `external_id`, and their fields must be exactly the dataset's (required ones present, text as
strings), their metadata allowed by `allow_extra_metadata`; one response per user and record, its label
among the question's options, a submitted one answering every required question; a record is
`completed` once `min_submitted` responses are submitted; the list of records with everyone's responses
is for owners, in insertion order, `limit` 1-1000. Only text fields and label questions are known.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

START = dt.datetime(2026, 1, 1)
ID = r"([0-9a-f-]{36})"
ROUTES: list[tuple[str, re.Pattern, str]] = []
Reply = tuple[int, Any]


def route(method: str, path: str):
    """Registers a handler for `path` (`{id}`: a UUID, passed on as an argument)."""

    def register(handler):
        ROUTES.append((method, re.compile(path.replace("{id}", ID)), handler.__name__))
        return handler

    return register


class Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class ArgillaApi:
    """The server's state and its routes; not thread-safe alone (the server holds a lock per request)."""

    def __init__(self) -> None:
        self.ticks = 0
        self.users: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, str] = {}
        self.workspaces: dict[str, dict[str, Any]] = {}
        self.members: dict[str, set[str]] = {}
        self.datasets: dict[str, dict[str, Any]] = {}
        self.fields: dict[str, dict[str, Any]] = {}
        self.questions: dict[str, dict[str, Any]] = {}
        self.records: dict[str, dict[str, Any]] = {}
        self.responses: dict[str, dict[str, Any]] = {}

    def now(self) -> str:
        """One second per change from 2026-01-01, naive UTC as argilla-server writes it: deterministic."""
        self.ticks += 1
        return (START + dt.timedelta(seconds=self.ticks)).isoformat()

    def dispatch(self, user: dict[str, Any] | None, method: str, path: str, body: Any, query: dict) -> Reply:
        if user is None:
            raise Refused(401, "Could not validate credentials")
        for verb, pattern, name in ROUTES:
            match = pattern.fullmatch(path)
            if verb == method and match:
                return getattr(self, name)(user, body or {}, query, *match.groups())
        raise Refused(404, "Not Found")

    # -- users and workspaces -------------------------------------------------------------------------

    @route("GET", "/api/v1/me")
    def me(self, user, body, query) -> Reply:
        return 200, user

    def new_workspace(self, name: str) -> dict[str, Any]:
        now = self.now()
        workspace = {"id": str(uuid.uuid4()), "name": name, "inserted_at": now, "updated_at": now}
        self.workspaces[workspace["id"]], self.members[workspace["id"]] = workspace, set()
        return workspace

    def visible_workspaces(self, user) -> list[dict[str, Any]]:
        return [
            w
            for w in self.workspaces.values()
            if user["role"] == "owner" or user["id"] in self.members[w["id"]]
        ]

    @route("GET", "/api/v1/me/workspaces")
    def my_workspaces(self, user, body, query) -> Reply:
        return 200, {"items": self.visible_workspaces(user)}

    @route("GET", "/api/v1/workspaces/{id}")
    def get_workspace(self, user, body, query, workspace_id) -> Reply:
        for workspace in self.visible_workspaces(user):
            if workspace["id"] == workspace_id:
                return 200, workspace
        raise Refused(404, f"Workspace with id `{workspace_id}` not found")

    @route("POST", "/api/v1/workspaces")
    def create_workspace(self, user, body, query) -> Reply:
        self.owner_only(user)
        name = body.get("name") or ""
        if not re.fullmatch(r"[a-zA-Z0-9_-]+", name):
            raise Refused(422, "workspace name must be url safe")
        if any(w["name"] == name for w in self.workspaces.values()):
            raise Refused(409, f"Workspace name `{name}` is not unique")
        return 201, self.new_workspace(name)

    @staticmethod
    def owner_only(user) -> None:
        if user["role"] != "owner":
            raise Refused(403, f"User `{user['username']}` is not authorized to access this resource")

    # -- datasets and their settings ------------------------------------------------------------------

    def dataset(self, user, dataset_id: str) -> dict[str, Any]:
        dataset = self.datasets.get(dataset_id)
        if dataset is None:
            raise Refused(404, f"Dataset with id `{dataset_id}` not found")
        if dataset["workspace_id"] not in {w["id"] for w in self.visible_workspaces(user)}:
            raise Refused(403, "not a member of the dataset's workspace")
        return dataset

    @route("GET", "/api/v1/me/datasets")
    def my_datasets(self, user, body, query) -> Reply:
        visible = {w["id"] for w in self.visible_workspaces(user)}
        return 200, {"items": [d for d in self.datasets.values() if d["workspace_id"] in visible]}

    @staticmethod
    def check_dataset(changes: dict[str, Any]) -> None:
        guidelines, distribution = changes.get("guidelines"), changes.get("distribution")
        if guidelines is not None and not 1 <= len(guidelines) <= 10_000:
            raise Refused(422, "guidelines: a string of 1 to 10000 characters, or null")
        if distribution is not None and (
            distribution.get("strategy") != "overlap" or not distribution.get("min_submitted", 0) >= 1
        ):
            raise Refused(422, "distribution: strategy overlap with min_submitted >= 1")

    @route("POST", "/api/v1/datasets")
    def create_dataset(self, user, body, query) -> Reply:
        self.owner_only(user)
        name, workspace_id = body.get("name") or "", body.get("workspace_id")
        if not 1 <= len(name) <= 200 or workspace_id not in self.workspaces:
            raise Refused(422, "a dataset needs a name of 1 to 200 characters and an existing workspace_id")
        self.check_dataset(body)
        if any(d["name"] == name and d["workspace_id"] == workspace_id for d in self.datasets.values()):
            raise Refused(
                409, f"Dataset with name `{name}` already exists for workspace with id `{workspace_id}`"
            )
        now = self.now()
        dataset = {
            "id": str(uuid.uuid4()), "name": name, "guidelines": body.get("guidelines"),
            "allow_extra_metadata": body.get("allow_extra_metadata", True), "status": "draft",
            "distribution": body.get("distribution") or {"strategy": "overlap", "min_submitted": 1},
            "metadata": body.get("metadata"), "workspace_id": workspace_id,
            "last_activity_at": now, "inserted_at": now, "updated_at": now,
        }  # fmt: skip
        self.datasets[dataset["id"]] = dataset
        return 201, dataset

    @route("GET", "/api/v1/datasets/{id}")
    def get_dataset(self, user, body, query, dataset_id) -> Reply:
        return 200, self.dataset(user, dataset_id)

    @route("PATCH", "/api/v1/datasets/{id}")
    def update_dataset(self, user, body, query, dataset_id) -> Reply:
        self.owner_only(user)
        dataset = self.dataset(user, dataset_id)
        known = ("name", "guidelines", "allow_extra_metadata", "distribution", "metadata")
        changes = {key: value for key, value in body.items() if key in known}
        self.check_dataset(changes)
        dataset.update(changes, updated_at=self.now())
        for record in self.records.values():  # the server's job recomputes every record's status
            if record["dataset_id"] == dataset_id:
                self.update_status(record)
        return 200, dataset

    @route("DELETE", "/api/v1/datasets/{id}")
    def delete_dataset(self, user, body, query, dataset_id) -> Reply:
        self.owner_only(user)
        dataset = self.datasets.pop(self.dataset(user, dataset_id)["id"])
        for table in (self.fields, self.questions, self.records):
            for key in [k for k, v in table.items() if v["dataset_id"] == dataset_id]:
                del table[key]
        for key in [k for k, v in self.responses.items() if v["record_id"] not in self.records]:
            del self.responses[key]
        return 200, dataset

    @route("PUT", "/api/v1/datasets/{id}/publish")
    def publish(self, user, body, query, dataset_id) -> Reply:
        self.owner_only(user)
        dataset = self.dataset(user, dataset_id)
        if dataset["status"] == "ready":
            raise Refused(422, "Dataset has already been published")
        if not self.settings_of(self.fields, dataset_id):
            raise Refused(422, "Dataset cannot be published without fields")
        if not any(q["required"] for q in self.settings_of(self.questions, dataset_id)):
            raise Refused(422, "Dataset cannot be published without required questions")
        dataset.update(status="ready", updated_at=self.now())
        return 200, dataset

    def settings_of(self, table: dict, dataset_id: str) -> list[dict[str, Any]]:
        return [entry for entry in table.values() if entry["dataset_id"] == dataset_id]

    @route("POST", "/api/v1/datasets/{id}/(fields|questions)")
    def create_setting(self, user, body, query, dataset_id, plural) -> Reply:
        self.owner_only(user)
        table, kind = self.table(plural)
        if self.dataset(user, dataset_id)["status"] == "ready":
            raise Refused(422, f"{kind} cannot be created for a published dataset")
        name, title, settings = body.get("name") or "", body.get("title") or "", body.get("settings") or {}
        if not 1 <= len(name) <= 200 or not 1 <= len(title) <= 500:
            raise Refused(422, "name (1 to 200 characters) and title (1 to 500) are required")
        if any(entry["name"] == name for entry in self.settings_of(table, dataset_id)):
            raise Refused(409, f"{kind} with name `{name}` already exists for dataset with id `{dataset_id}`")
        self.check_settings(kind, settings)
        now = self.now()
        entry = {
            "id": str(uuid.uuid4()), "name": name, "title": title, "description": body.get("description"),
            "required": True if body.get("required") is None else body["required"], "settings": settings,
            "dataset_id": dataset_id, "inserted_at": now, "updated_at": now,
        }  # fmt: skip
        table[entry["id"]] = entry
        return 201, entry

    @staticmethod
    def check_settings(kind: str, settings: dict[str, Any]) -> None:
        if kind == "Field":
            if settings.get("type") != "text" or not isinstance(settings.get("use_markdown"), bool):
                raise Refused(422, "the stand-in knows text fields only: {type: text, use_markdown: bool}")
            return
        options = settings.get("options") or []
        values = [option.get("value") for option in options]
        if settings.get("type") != "label_selection":
            raise Refused(422, "the stand-in knows label_selection questions only")
        if len(options) < 2 or len(set(values)) != len(values) or not all(o.get("text") for o in options):
            raise Refused(422, "label_selection: at least 2 options, unique values, each with a text")
        visible = settings.get("visible_options")
        if visible is not None and not 3 <= visible <= len(options):
            raise Refused(422, "visible_options must be between 3 and the number of options")

    def table(self, plural: str) -> tuple[dict[str, dict[str, Any]], str]:
        return (self.fields, "Field") if plural == "fields" else (self.questions, "Question")

    @route("PATCH", "/api/v1/(fields|questions)/{id}")
    def update_setting(self, user, body, query, plural, setting_id) -> Reply:
        self.owner_only(user)
        table, kind = self.table(plural)
        entry = table.get(setting_id)
        if entry is None:
            raise Refused(404, f"{kind} with id `{setting_id}` not found")
        if body.get("settings"):
            self.check_settings(kind, body["settings"])
        entry.update({k: body[k] for k in ("title", "description", "settings") if body.get(k) is not None})
        entry["updated_at"] = self.now()
        return 200, entry

    @route("GET", "/api/v1/datasets/{id}/(fields|questions|vectors-settings)")
    @route("GET", "/api/v1/me/datasets/{id}/(metadata-properties)")
    def list_settings(self, user, body, query, dataset_id, plural) -> Reply:
        self.dataset(user, dataset_id)
        known = plural in ("fields", "questions")  # no vectors, no metadata properties here
        return 200, {"items": self.settings_of(self.table(plural)[0], dataset_id) if known else []}

    # -- records and responses ------------------------------------------------------------------------

    def check_record(self, dataset: dict[str, Any], item: dict[str, Any], existing: bool) -> None:
        names = {f["name"]: f for f in self.settings_of(self.fields, dataset["id"])}
        fields = item.get("fields")
        if fields is not None or not existing:
            if not isinstance(fields, dict) or not fields:
                raise Refused(422, "fields cannot be empty")
            missing = [n for n, f in names.items() if f["required"] and fields.get(n) is None]
            extra = [n for n in fields if n not in names]
            if missing or extra:
                raise Refused(422, f"missing required fields {missing} or non configured fields {extra}")
            if any(value is not None and not isinstance(value, str) for value in fields.values()):
                raise Refused(422, "text field values must be strings")
        if item.get("metadata") and not dataset["allow_extra_metadata"]:
            raise Refused(422, "metadata is not valid: extra metadata is not allowed for this dataset")

    @route("PUT", "/api/v1/datasets/{id}/records/bulk")
    def upsert_records(self, user, body, query, dataset_id) -> Reply:
        self.owner_only(user)
        dataset = self.dataset(user, dataset_id)
        items = body.get("items") or []
        external = [item.get("external_id") for item in items if item.get("external_id") is not None]
        if not 1 <= len(items) <= 500 or len(set(external)) != len(external):
            raise Refused(422, "items: 1 to 500 records with unique external ids")
        if dataset["status"] != "ready":
            raise Refused(422, "records cannot be created for a non published dataset")
        mine = {r["external_id"]: r for r in self.settings_of(self.records, dataset_id)}
        plan = []
        for position, item in enumerate(items):
            record = mine.get(item.get("external_id")) or self.records.get(item.get("id") or "")
            try:
                self.check_record(dataset, item, record is not None)
            except Refused as refusal:
                raise Refused(
                    422, f"Record at position {position} is not valid because {refusal.detail}"
                ) from None
            plan.append((record, item))
        saved, updated = [], []
        for record, item in plan:
            if record is None:
                now = self.now()
                record = {
                    "id": str(uuid.uuid4()), "status": "pending", "fields": item["fields"],
                    "metadata": item.get("metadata"), "external_id": item.get("external_id"),
                    "dataset_id": dataset_id, "inserted_at": now, "updated_at": now,
                }  # fmt: skip
                self.records[record["id"]] = record
            else:
                updated.append(record["id"])
                changed = {k: item[k] for k in ("fields", "metadata") if k in item and item[k] != record[k]}
                if changed:
                    record.update(changed, updated_at=self.now())
            saved.append(dict(record))
        return 200, {"items": saved, "updated_item_ids": updated}

    @route("GET", "/api/v1/datasets/{id}/records")
    def list_records(self, user, body, query, dataset_id) -> Reply:
        self.owner_only(user)  # everyone's responses: owners (and the workspace's admins)
        self.dataset(user, dataset_id)
        offset, limit = int(query.get("offset", ["0"])[0]), int(query.get("limit", ["50"])[0])
        if not 1 <= limit <= 1000 or offset < 0:
            raise Refused(422, "limit must be between 1 and 1000, offset at least 0")
        include = {key for value in query.get("include", []) for key in value.split(",")}
        mine = sorted(self.settings_of(self.records, dataset_id), key=lambda r: r["inserted_at"])
        page = []
        for record in mine[offset : offset + limit]:
            shown = dict(record)
            if "responses" in include:
                shown["responses"] = [r for r in self.responses.values() if r["record_id"] == record["id"]]
            page.append(shown)
        return 200, {"items": page, "total": len(mine)}

    def update_status(self, record: dict[str, Any]) -> None:
        needed = self.datasets[record["dataset_id"]]["distribution"]["min_submitted"]
        submitted = [
            r
            for r in self.responses.values()
            if r["record_id"] == record["id"] and r["status"] == "submitted"
        ]
        status = "completed" if len(submitted) >= needed else "pending"
        if status != record["status"]:
            record.update(status=status, updated_at=self.now())

    def check_response(self, record: dict[str, Any], body: dict[str, Any]) -> None:
        status, values = body.get("status"), body.get("values")
        if status not in ("submitted", "discarded", "draft"):
            raise Refused(422, "status must be submitted, discarded or draft")
        questions = {q["name"]: q for q in self.settings_of(self.questions, record["dataset_id"])}
        for name, value in (values or {}).items():
            if name not in questions:
                raise Refused(422, f"found responses for non configured questions: ['{name}']")
            if value.get("value") not in [o["value"] for o in questions[name]["settings"]["options"]]:
                raise Refused(422, f"{value.get('value')!r} is not a valid label for question {name!r}")
        missing = [name for name, q in questions.items() if q["required"] and name not in (values or {})]
        if status == "submitted" and missing:
            raise Refused(422, f"missing response value for required question with name={missing[0]!r}")

    @route("POST", "/api/v1/records/{id}/responses")
    def create_response(self, user, body, query, record_id) -> Reply:
        record = self.records.get(record_id)
        if record is None:
            raise Refused(404, f"Record with id `{record_id}` not found")
        self.dataset(user, record["dataset_id"])  # members of the dataset's workspace only
        if any(r["record_id"] == record_id and r["user_id"] == user["id"] for r in self.responses.values()):
            raise Refused(
                409,
                f"Response already exists for record with id `{record_id}` and by user with id `{user['id']}`",
            )
        self.check_response(record, body)
        now = self.now()
        response = {
            "id": str(uuid.uuid4()), "values": body.get("values"), "status": body["status"],
            "record_id": record_id, "user_id": user["id"], "inserted_at": now, "updated_at": now,
        }  # fmt: skip
        self.responses[response["id"]] = response
        self.update_status(record)
        return 201, response

    @route("PUT", "/api/v1/responses/{id}")
    def update_response(self, user, body, query, response_id) -> Reply:
        response = self.responses.get(response_id)
        if response is None or response["user_id"] != user["id"]:
            raise Refused(404, f"Response with id `{response_id}` not found")
        record = self.records[response["record_id"]]
        self.check_response(record, body)
        response.update(values=body.get("values"), status=body["status"], updated_at=self.now())
        self.update_status(record)
        return 200, response
