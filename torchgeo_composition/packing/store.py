"""Where a pack lives: a local folder or an object-store URL (``s3://``, ``gs://``).

Small files of a pack (its summary and the marker of an unfinished pack) are
read and written here; the chunks themselves are written and streamed by
LitData. Object-store requests use bounded retries and timeouts, so an
unreachable or refused URL ends with one message naming the URL instead of
waiting for ever.

The endpoint and the credentials of an S3-compatible store come from the usual
environment variables (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``), read by boto3 and by LitData.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..files import write_text

__all__ = [
    "CONNECT_TIMEOUT_S",
    "MAX_ATTEMPTS",
    "REMOTE_SCHEMES",
    "StoreError",
    "allow_http_endpoint",
    "is_remote",
    "join",
    "read_text",
    "remove_file",
    "remove_tree",
    "storage_options",
    "tree_is_empty",
    "write_remote_text",
]

#: URL schemes of object stores that LitData writes and streams.
REMOTE_SCHEMES: tuple[str, ...] = ("s3", "gs")

#: Attempts of one object-store request before it fails.
MAX_ATTEMPTS = 3

#: Seconds to wait for a connection (and for each read) of an object store.
CONNECT_TIMEOUT_S = 10.0


class StoreError(OSError):
    """An object store could not be reached, or refused a request."""


def is_remote(location: str) -> bool:
    """Return whether ``location`` is an object-store URL.

    Args:
        location: A local path or a URL.

    Returns:
        True for ``s3://`` and ``gs://`` URLs.

    Raises:
        ValueError: For a URL of another scheme (``http://``, ``ftp://`` ...).
    """
    scheme = urlparse(str(location)).scheme
    if scheme in REMOTE_SCHEMES:
        return True
    if scheme and len(scheme) > 1 and "://" in str(location):
        raise ValueError(
            f"location {location!r} has scheme {scheme!r}; give a local folder or "
            f"a URL of scheme {[s + '://' for s in REMOTE_SCHEMES]}"
        )
    return False


def join(location: str, *parts: str) -> str:
    """Join a local path or a URL with relative parts.

    Args:
        location: A local path or a URL.
        *parts: Relative names.

    Returns:
        The joined path or URL.
    """
    if is_remote(location):
        return "/".join([location.rstrip("/"), *parts])
    return str(Path(location, *parts))


def _endpoint(options: dict[str, Any] | None) -> str | None:
    if options and options.get("endpoint_url"):
        return str(options["endpoint_url"])
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")


def allow_http_endpoint(options: dict[str, Any] | None = None) -> None:
    """Let LitData's fast S3 client talk to a plain-HTTP endpoint when one is set.

    S3-compatible servers on a private network (MinIO, a local test server) often
    speak HTTP. boto3 accepts them; the obstore client LitData uses for chunk
    transfers refuses them unless its ``allow_http`` client option is set. This
    sets it when the endpoint in use (``storage_options["endpoint_url"]``,
    ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``) is ``http://``.

    Args:
        options: The storage options given to LitData, if any.
    """
    endpoint = _endpoint(options)
    if not endpoint or not endpoint.startswith("http://"):
        return
    from litdata.streaming import downloader

    client_options = getattr(downloader, "_OBSTORE_CLIENT_OPTIONS", None)
    if isinstance(client_options, dict):
        client_options["allow_http"] = "true"


def storage_options(
    options: dict[str, Any] | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    timeout: float = CONNECT_TIMEOUT_S,
) -> dict[str, Any]:
    """Return boto3 client options with bounded retries and timeouts.

    LitData's default S3 client retries a failing request a thousand times; with
    these options an unreachable store fails within about ``max_attempts x
    timeout`` seconds.

    Args:
        options: Further client options (``endpoint_url``, ``region_name`` ...);
            they win over the defaults.
        max_attempts: Attempts per request.
        timeout: Connect and read timeout in seconds.

    Returns:
        Options for LitData's ``storage_options`` (boto3 ``client`` keywords).
    """
    from botocore.config import Config

    config = Config(
        retries={"max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=timeout,
        read_timeout=max(timeout, 60.0),
    )
    return {"config": config, **(options or {})}


def _client(options: dict[str, Any] | None) -> Any:
    import boto3

    return boto3.session.Session().client("s3", **storage_options(options))


def _split(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    if parsed.scheme != "s3":
        raise ValueError(
            f"URL {url!r}: this operation supports s3:// URLs (gs:// packs are "
            "streamed by LitData but written and checked here only through s3://)"
        )
    return parsed.netloc, parsed.path.lstrip("/")


def _store_error(url: str, err: Exception) -> StoreError:
    """Turn a boto3 error into one message naming the URL and the remedy."""
    from botocore.exceptions import ClientError, NoCredentialsError

    if isinstance(err, NoCredentialsError):
        reason = (
            "no credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(or a profile)"
        )
    elif isinstance(err, ClientError):
        error = err.response.get("Error", {})
        code = error.get("Code", "?")
        reason = f"the store refused the request ({code}: {error.get('Message', '')})"
        if code in (
            "403",
            "AccessDenied",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
        ):
            reason += "; check the credentials and their permissions on the bucket"
        elif code in ("NoSuchBucket",):
            reason += "; create the bucket or fix its name"
    else:
        reason = (
            f"cannot reach the store ({type(err).__name__}: {err}); check "
            "AWS_ENDPOINT_URL and the network"
        )
    endpoint = _endpoint(None)
    where = f" at endpoint {endpoint}" if endpoint else ""
    return StoreError(
        f"object store URL {url!r}{where}: {reason} (gave up after {MAX_ATTEMPTS} "
        "attempts)"
    )


def read_text(location: str, options: dict[str, Any] | None = None) -> str | None:
    """Read a small text file from a folder or an object store.

    Args:
        location: File path or URL.
        options: boto3 client options for a URL.

    Returns:
        The text, or ``None`` when the file does not exist.

    Raises:
        StoreError: If the store cannot be reached or refuses the request.
    """
    if not is_remote(location):
        path = Path(location)
        return path.read_text(encoding="utf-8") if path.is_file() else None
    bucket, key = _split(location)
    try:
        body = _client(options).get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as err:
        from botocore.exceptions import ClientError

        if isinstance(err, ClientError) and err.response.get("Error", {}).get(
            "Code"
        ) in ("NoSuchKey", "404"):
            return None
        raise _store_error(location, err) from err
    return bytes(body).decode("utf-8")


def write_remote_text(
    location: str, text: str, options: dict[str, Any] | None = None
) -> None:
    """Write a small text file to a folder (atomically) or an object store.

    An object-store ``PUT`` replaces an object as a whole, so readers see the old
    or the new text, never a part.

    Args:
        location: File path or URL.
        text: Content (UTF-8).
        options: boto3 client options for a URL.

    Raises:
        StoreError: If the store cannot be reached or refuses the request.
    """
    if not is_remote(location):
        write_text(location, text)
        return
    bucket, key = _split(location)
    try:
        _client(options).put_object(Bucket=bucket, Key=key, Body=text.encode())
    except Exception as err:
        raise _store_error(location, err) from err


def _keys(location: str, options: dict[str, Any] | None) -> list[str]:
    bucket, prefix = _split(location)
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    client = _client(options)
    keys: list[str] = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix
        ):
            keys += [obj["Key"] for obj in page.get("Contents", [])]
    except Exception as err:
        raise _store_error(location, err) from err
    return keys


def tree_is_empty(location: str, options: dict[str, Any] | None = None) -> bool:
    """Return whether a folder (or URL prefix) is missing or holds nothing.

    Args:
        location: Folder or URL.
        options: boto3 client options for a URL.

    Returns:
        True when there is nothing under ``location``.

    Raises:
        StoreError: If the store cannot be reached or refuses the request.
    """
    if not is_remote(location):
        path = Path(location)
        return not path.exists() or (path.is_dir() and not any(path.iterdir()))
    return not _keys(location, options)


def remove_tree(location: str, options: dict[str, Any] | None = None) -> None:
    """Remove a folder (or everything under a URL prefix); a missing one is fine.

    Args:
        location: Folder or URL.
        options: boto3 client options for a URL.

    Raises:
        StoreError: If the store cannot be reached or refuses the request.
    """
    if not is_remote(location):
        shutil.rmtree(location, ignore_errors=True)
        return
    bucket, _ = _split(location)
    keys = _keys(location, options)
    client = _client(options)
    try:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            client.delete_objects(Bucket=bucket, Delete={"Objects": batch})
    except Exception as err:
        raise _store_error(location, err) from err


def remove_file(location: str, options: dict[str, Any] | None = None) -> None:
    """Remove one file (or object); a missing one is fine.

    Args:
        location: File path or URL.
        options: boto3 client options for a URL.

    Raises:
        StoreError: If the store cannot be reached or refuses the request.
    """
    if not is_remote(location):
        Path(location).unlink(missing_ok=True)
        return
    bucket, key = _split(location)
    try:
        _client(options).delete_object(Bucket=bucket, Key=key)
    except Exception as err:
        raise _store_error(location, err) from err
