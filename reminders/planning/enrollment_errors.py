"""What is wrong with an enrollment's input, raised by its readers and worded by each door."""

from __future__ import annotations

from collections.abc import Mapping


class InvalidEnrollment(ValueError):
    """What is wrong with the input: one line (the CLI and the import print it), and, for
    the web form, the line of each bad field by its name in FIELDS (`by_field`)."""

    def __init__(
        self, message: str, field: str | None = None, *, by_field: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        self.by_field = dict(by_field) if by_field else ({field: message} if field else {})


class PhoneOfAnotherPatient(InvalidEnrollment):
    """The number is on file for a patient with another name: the question each front end
    asks, "Same person, or someone else sharing this phone?" (the form's choice, the CLI's
    `--same-person` / `--shared-phone`, the API's `patient_id` / `shared_phone`)."""

    def __init__(self, phone: str, patient_id: int) -> None:
        super().__init__(
            f"phone number {phone} belongs to another patient (patient {patient_id},"
            " with a different name): the same person, or someone else sharing this phone?",
            "phone",
        )
        self.phone = phone
        self.patient_id = patient_id
