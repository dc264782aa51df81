"""Real FHIR client libraries against a real server process."""

from __future__ import annotations

import pytest
from fhirclient import client as smart_client
from fhirclient.models.capabilitystatement import CapabilityStatement
from fhirclient.models.humanname import HumanName
from fhirclient.models.identifier import Identifier
from fhirclient.models.patient import Patient as SmartPatient
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ResourceNotFound

from tests.support.server_process import ServerProcess

PNR = "http://electronichealth.se/identifier/personnummer"


@pytest.mark.e2e
def test_fhirpy_crud(server: ServerProcess) -> None:
    fhir = SyncFHIRClient(server.base)
    patient = fhir.resource(
        "Patient",
        identifier=[{"system": PNR, "value": "194001019807"}],
        name=[{"family": "Lindström", "given": ["Åke"]}],
        gender="male",
    )
    patient.save()
    assert patient.id
    assert patient["meta"]["versionId"] == "1"

    fetched = fhir.reference("Patient", patient.id).to_resource()
    assert fetched["name"][0]["family"] == "Lindström"

    found = fhir.resources("Patient").search(family="lindstrom", given="Åke").fetch()
    assert [p.id for p in found] == [patient.id]
    by_pnr = fhir.resources("Patient").search(identifier=f"{PNR}|194001019807").fetch_all()
    assert [p.id for p in by_pnr] == [patient.id]

    fetched["gender"] = "other"
    fetched.save()
    assert fetched["meta"]["versionId"] == "2"
    assert fhir.reference("Patient", patient.id).to_resource()["gender"] == "other"

    fetched.delete()
    with pytest.raises(ResourceNotFound):
        fhir.reference("Patient", patient.id).to_resource()


@pytest.mark.e2e
def test_fhirclient_reads_capability_and_resources(server: ServerProcess) -> None:
    smart = smart_client.FHIRClient(settings={"app_id": "lus-test", "api_base": server.base})
    statement = CapabilityStatement.read_from("metadata", smart.server)
    assert statement.fhirVersion == "4.0.1"
    assert any(r.type == "Encounter" for r in statement.rest[0].resource)

    patient = SmartPatient()
    patient.identifier = [Identifier({"system": PNR, "value": "195012131232"})]
    patient.name = [HumanName({"family": "Åberg", "given": ["Märta"]})]
    created = patient.create(smart.server)
    assert created is not None and created["resourceType"] == "Patient"
    again = SmartPatient.read(created["id"], smart.server)
    assert again.name[0].family == "Åberg"
    assert again.meta.versionId == "1"
