"""`s3` sources: the objects under a prefix of a bucket on any S3-compatible endpoint.

Settings: {"url": "s3://BUCKET/PREFIX", "endpoint", "region", "access_key_id",
"secret_access_key"}; the secret is write-only (app/sources SECRETS: never shown, never
logged). The version stamp is the object's ETag. The endpoint is checked like a fetched
URL before every listing (ALLOW_PRIVATE_URLS lets a MinIO on a private network through;
link-local addresses never are), and a plain-http endpoint is then reached at the address
that was checked, its name sent as the signed Host header: letting boto3 resolve the name
again let a DNS server answer a public address to the check and 169.254.169.254 to the
connection (DNS rebinding). An https endpoint keeps its name: the certificate must match it,
which an address the name was rebound to cannot do. Objects whose names have no document
suffix are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.errors import AppError
from app.ingest import fetch as fetcher
from app.ingest import formats
from app.sources import Item, Known, ListingError, Network, SourceSettingsError

MAX_OBJECTS = 100_000  # listed per sync: a bucket past this is refused, not half-synced
# What an S3 error code means to a person (the rest: the code and S3's own message).
WORDS = {
    "InvalidAccessKeyId": "the access key id is not known to the endpoint",
    "SignatureDoesNotMatch": "the secret access key is wrong",
    "AccessDenied": "the key may not list or read this bucket",
    "NoSuchBucket": "there is no such bucket",
}


def _split(url: Any) -> Any:
    try:
        return urlsplit(url) if isinstance(url, str) else None
    except ValueError:  # "http://[" and the like
        return None


def check(given: dict[str, Any]) -> dict[str, Any]:
    url = given.get("url")
    parts = _split(url)
    if parts is None or parts.scheme != "s3" or not parts.netloc:
        raise SourceSettingsError('send the bucket as "url": s3://BUCKET/PREFIX')
    endpoint = given.get("endpoint")
    split = _split(endpoint)
    if split is None or split.scheme not in ("http", "https") or not split.netloc:
        raise SourceSettingsError(
            'send the S3 endpoint as "endpoint": an http:// or https:// address'
        )
    region = given.get("region") or "us-east-1"
    key_id, secret = given.get("access_key_id"), given.get("secret_access_key")
    if not isinstance(region, str) or not region.replace("-", "").isalnum():
        raise SourceSettingsError('"region" is a region name such as us-east-1')
    if not isinstance(key_id, str) or not key_id or not isinstance(secret, str) or not secret:
        raise SourceSettingsError('send "access_key_id" and "secret_access_key"')
    return {
        "url": f"s3://{parts.netloc}/{parts.path.lstrip('/')}",
        "endpoint": endpoint.rstrip("/"),
        "region": region,
        "access_key_id": key_id,
        "secret_access_key": secret,
    }


def connector(settings: dict[str, Any], network: Network) -> Bucket:
    parts = urlsplit(settings["url"])
    return Bucket(parts.netloc, parts.path.lstrip("/"), settings, network)


@dataclass
class Bucket:
    bucket: str
    prefix: str
    settings: dict[str, Any]
    network: Network
    address: str | None = None  # the endpoint's checked address (set by the listing)

    @cached_property
    def _client(self) -> Any:  # thread-safe: shared by the listing and the reads
        assert self.address is not None, "list() checks the endpoint before any request"
        endpoint = self.settings["endpoint"]
        host = None
        if urlsplit(endpoint).scheme == "http":
            endpoint, headers, _ = fetcher.pinned_to(endpoint, self.address)
            host = headers["Host"]
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            region_name=self.settings["region"],
            aws_access_key_id=self.settings["access_key_id"],
            aws_secret_access_key=self.settings["secret_access_key"],
            config=Config(
                s3={"addressing_style": "path"},  # S3-compatible servers (MinIO) expect it
                connect_timeout=self.network.timeout,
                read_timeout=self.network.timeout,
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )
        if host is not None:  # signed as the name the endpoint was given by (SigV4's Host)

            def named(request: Any, **_: Any) -> None:
                request.headers["Host"] = host

            client.meta.events.register("before-sign.s3", named)
        return client

    async def list(self, known: Known) -> list[Item]:
        try:
            self.address = await fetcher.check_url(
                self.settings["endpoint"],
                allow_private=self.network.allow_private,
                allowed_ports=self.network.ports,
            )
        except AppError as exc:
            raise ListingError(f"the S3 endpoint is refused: {exc.message}") from None
        return await asyncio.to_thread(self._list)

    async def fetch(self, key: str) -> bytes:
        return await asyncio.to_thread(self._fetch, key)

    def _list(self) -> list[Item]:
        accepted = set(formats.suffixes())
        items: list[Item] = []
        with _errors("listing"):
            pages = self._client.get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for obj in page.get("Contents", []):
                    if len(items) >= MAX_OBJECTS:
                        raise ListingError(
                            f"the prefix holds more than {MAX_OBJECTS:,} objects; "
                            "use a narrower prefix"
                        )
                    key = obj["Key"]
                    if PurePosixPath(key).suffix.lower() in accepted:
                        items.append(Item(key, f"etag:{obj['ETag']}", obj["Size"]))
        return sorted(items, key=lambda item: item.key)

    def _fetch(self, key: str) -> bytes:
        limit = self.network.max_bytes
        with _errors(f"reading {key!r}"):
            answer = self._client.get_object(Bucket=self.bucket, Key=key)
            if answer["ContentLength"] > limit:
                raise ListingError(f"{key!r} is larger than MAX_UPLOAD_MB ({limit:,} bytes)")
            data = answer["Body"].read(limit + 1)
        if len(data) > limit:
            raise ListingError(f"{key!r} is larger than MAX_UPLOAD_MB ({limit:,} bytes)")
        return data


@contextlib.contextmanager
def _errors(doing: str) -> Iterator[None]:
    """boto3's errors as ListingError in words (no request ids, no credentials)."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        why = WORDS.get(code) or f"{code}: {error.get('Message', '')}".strip(": ")
        raise ListingError(f"S3 {doing} failed: {why}") from None
    except BotoCoreError as exc:
        raise ListingError(f"S3 {doing} failed: {exc}") from None
