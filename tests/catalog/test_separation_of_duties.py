"""Two people on every release: whoever created, edited, imported into or submitted a draft does
not approve (or reject) it, whatever role she holds by then; only a catalog_reviewer approves.
The service refuses first (409 same_user_cannot_approve, before the role check); PostgreSQL
refuses the same approval written with raw SQL."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.db import DatabaseError, connection, transaction

from apps.catalog import services
from apps.catalog.demo import canonical_csv, generate_items
from apps.catalog.importers.services import release_import
from apps.catalog.models import CatalogRelease
from apps.core.errors import Conflict, Forbidden
from apps.core.roles import Role
from apps.core.services import staff_set_role
from tests.factories import draft_release, staff

pytestmark = pytest.mark.django_db
JAN_2027 = dt.date(2027, 1, 1)
ITEMS = list(generate_items(4, seed=21))


@pytest.fixture
def admins(db):
    return staff(Role.CATALOG_ADMIN, username="admin-writes"), staff(Role.CATALOG_ADMIN, username="admin-submits")


def _written_by_one_submitted_by_another(writer, submitter):
    release = draft_release(label="2027.01", effective_from=JAN_2027, user=submitter)
    for item in ITEMS:
        services.item_put(release=release, data=item, user=writer)
    return services.release_submit(release=release, user=submitter)


def _refusal(call):
    with pytest.raises(Conflict) as err:
        call()
    return err.value.code


def test_an_admin_who_wrote_every_item_cannot_approve_after_a_colleague_submits(admins):
    writer, submitter = admins
    release = _written_by_one_submitted_by_another(writer, submitter)
    assert _refusal(lambda: services.release_approve(release=release, user=writer)) == "same_user_cannot_approve"


def test_a_reviewer_who_edited_the_draft_before_her_role_changed_cannot_approve(admins):
    writer, submitter = admins
    release = _written_by_one_submitted_by_another(writer, submitter)
    staff_set_role(user=writer, role=Role.CATALOG_REVIEWER, reason="moved to review")
    assert _refusal(lambda: services.release_approve(release=release, user=writer)) == "same_user_cannot_approve"


def test_the_person_who_deleted_an_item_cannot_approve(admins):
    writer, submitter = admins
    release = draft_release(label="2027.01", effective_from=JAN_2027, user=submitter, items=ITEMS)
    services.item_delete(release=release, code=ITEMS[0]["code"], user=writer)
    services.release_submit(release=release, user=submitter)
    staff_set_role(user=writer, role=Role.CATALOG_REVIEWER, reason="moved to review")
    assert _refusal(lambda: services.release_approve(release=release, user=writer)) == "same_user_cannot_approve"


def test_the_person_who_imported_a_file_into_the_draft_cannot_approve(admins):
    importer, submitter = admins
    release = draft_release(label="2027.01", effective_from=JAN_2027, user=submitter)
    data = canonical_csv(5, seed=3)
    release_import(release=release, file=io.BytesIO(data), fmt="canonical-csv", user=importer, filename="items.csv")
    services.release_submit(release=release, user=submitter)
    staff_set_role(user=importer, role=Role.CATALOG_REVIEWER, reason="moved to review")
    assert _refusal(lambda: services.release_approve(release=release, user=importer)) == "same_user_cannot_approve"


def test_the_person_who_created_the_draft_cannot_approve(admins):
    creator, colleague = admins
    release = draft_release(label="2027.01", effective_from=JAN_2027, user=creator)
    for item in ITEMS:
        services.item_put(release=release, data=item, user=colleague)
    services.release_submit(release=release, user=colleague)
    staff_set_role(user=creator, role=Role.CATALOG_REVIEWER, reason="moved to review")
    assert _refusal(lambda: services.release_approve(release=release, user=creator)) == "same_user_cannot_approve"


def test_a_reviewer_who_took_part_cannot_reject_either(admins):
    writer, submitter = admins
    release = _written_by_one_submitted_by_another(writer, submitter)
    staff_set_role(user=writer, role=Role.CATALOG_REVIEWER, reason="moved to review")
    assert _refusal(lambda: services.release_reject(release=release, user=writer, reason="mine")) == "same_user_cannot_approve"


def test_a_catalog_admin_who_never_touched_the_release_cannot_approve_only_reviewers_do(admins):
    writer, submitter = admins
    release = _written_by_one_submitted_by_another(writer, submitter)
    bystander = staff(Role.CATALOG_ADMIN, username="admin-bystander")
    with pytest.raises(Forbidden) as err:
        services.release_approve(release=release, user=bystander)
    assert err.value.code == "permission_denied"


def test_a_reviewer_who_never_touched_the_release_approves_it(admins, reviewer):
    writer, submitter = admins
    release = _written_by_one_submitted_by_another(writer, submitter)
    assert services.release_approve(release=release, user=reviewer).status == "approved"


def test_the_release_lists_everyone_who_took_part_and_how(admins):
    writer, submitter = admins
    release = _written_by_one_submitted_by_another(writer, submitter)
    taken = set(release.participants.values_list("user__username", "role"))
    assert taken == {("admin-submits", "created"), ("admin-writes", "edited"), ("admin-submits", "submitted")}


def test_the_database_refuses_an_approver_who_took_part_even_with_raw_sql(admins, reviewer):
    writer, submitter = admins
    release = _written_by_one_submitted_by_another(writer, submitter)
    with pytest.raises(DatabaseError, match="took part in release"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE catalog_catalogrelease SET status = 'approved', approved_by_id = %s, approved_at = now() WHERE id = %s",
            [writer.pk, release.pk],
        )


def test_the_database_refuses_recording_the_approver_as_a_participant_afterwards(admins, reviewer):
    writer, submitter = admins
    release = _written_by_one_submitted_by_another(writer, submitter)
    services.release_approve(release=release, user=reviewer)
    with pytest.raises(DatabaseError, match="approved release"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO catalog_releaseparticipant (release_id, user_id, role, at) VALUES (%s, %s, 'edited', now())",
            [release.pk, reviewer.pk],
        )


def test_over_the_api_the_admin_who_put_every_item_gets_409_after_a_colleague_submits(api, admins):
    writer, submitter = admins
    assert api(submitter).post("/api/v1/releases/", {"label": "2027.01", "effective_from": "2027-01-01"}, format="json").status_code == 201
    for item in ITEMS:
        assert api(writer).put(f"/api/v1/releases/2027.01/items/{item['code']}/", item, format="json").status_code == 200
    assert api(submitter).post("/api/v1/releases/2027.01/submit/").status_code == 200
    response = api(writer).post("/api/v1/releases/2027.01/approve/")
    assert (response.status_code, response.json()["code"]) == (409, "same_user_cannot_approve")


def test_an_edit_of_the_draft_in_admin_makes_its_author_a_participant(client, admins):
    editor, creator = admins
    release = draft_release(label="2027.01", effective_from=JAN_2027, user=creator, items=ITEMS)
    client.force_login(editor)
    response = client.post(
        f"/admin/catalog/catalogrelease/{release.pk}/change/", {"label": "2027.01", "effective_from": "2027-02-01"}, follow=True
    )
    assert response.status_code == 200
    assert (CatalogRelease.objects.get(pk=release.pk).effective_from, release.participants.filter(user=editor, role="edited").exists()) == (
        dt.date(2027, 2, 1),
        True,
    )


def test_the_database_refuses_erasing_a_participant_of_a_live_release(admins):
    writer, submitter = admins
    release = _written_by_one_submitted_by_another(writer, submitter)
    with pytest.raises(DatabaseError, match="never changed or deleted"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM catalog_releaseparticipant WHERE release_id = %s AND user_id = %s", [release.pk, writer.pk])


def test_deleting_a_draft_takes_its_participants_with_it(admins):
    writer, _ = admins
    release = draft_release(label="2027.09", effective_from=JAN_2027, user=writer, items=ITEMS[:1])
    release.delete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM catalog_releaseparticipant WHERE release_id = %s", [release.pk])
        assert cursor.fetchone()[0] == 0
