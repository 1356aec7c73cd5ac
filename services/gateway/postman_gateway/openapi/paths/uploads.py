"""The ``Uploads`` tag (outside ``/v1``): the presigned PUT of recipient files when the platform stores them itself."""

from __future__ import annotations

from postman_gateway.openapi.paths.building import MD5, Operation, op, path_param, query


def operations() -> list[Operation]:
    return [op(
        "PUT", "/uploads/{key}", "Uploads", "Upload a recipient file (the presigned URL)",
        "The `presigned_url` of `upload/start` when the platform stores files itself (OBJECT_STORE=local): PUT the "
        "raw file with `Content-MD5` (and `Content-Type`); the URL's signature is the credential, no API key. Keep "
        "the `ETag` for `upload/complete`. With S3 the URL is S3's own.",
        {200: {"description": "Stored.", "headers": {"ETag": {"description": "The file's MD5 in hex, quoted.",
                                                              "schema": {"type": "string"}}}}},
        errors=(400, 403, 404, 413, 500),
        params=[path_param("key", "The object key in the URL.", {"type": "string"}, "0b5c7f3e.csv"),
                query("expires", {"type": "string"}, "From the presigned URL.", "1795766405", True),
                query("md5", {"type": "string"}, "From the presigned URL.", MD5, True),
                query("signature", {"type": "string"}, "From the presigned URL.", "3f1a9c", True)],
        body={"required": True, "content": {"text/csv": {"schema": {"type": "string"},
                                                         "example": "recipient,name\na@example.gov.sg,A\n"}}},
        public=True)]
