# -*- coding: utf-8 -*-
# Copyright: (c) 2025, voip-inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The gRPC client for the voip-inventory server, shared by the collection's plugins.

Everything a caller may see goes through InventoryClientError, whose message names the endpoint
and what to do, so plugins can pass it to the operator unchanged.
"""

from __future__ import annotations

import os
import re

try:
    import grpc
    from ansible_collections.voip.infrastructure.plugins.module_utils import inventory_pb2
    from ansible_collections.voip.infrastructure.plugins.module_utils import inventory_pb2_grpc
except Exception as exc:  # pylint: disable=broad-exception-caught
    # The stubs raise more than ImportError when grpcio or protobuf are older than they were generated for.
    GRPC_IMPORT_ERROR = exc
else:
    GRPC_IMPORT_ERROR = None

DEFAULT_ENDPOINT = 'unix:///run/voip-inventory/inventory.sock'

# The whole inventory arrives in one message; 100,000 hosts with their variables take tens of MiB, far past
# gRPC's 4 MiB default. The server sets the same limit on its side.
MAX_RECEIVE_MESSAGE_BYTES = 512 * 1024 * 1024

# sun_path in struct sockaddr_un holds 108 bytes including the terminating NUL.
_MAX_SOCKET_PATH_BYTES = 107

_HOST_PORT = re.compile(r'^(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(?P<port>[0-9]{1,5})$')


class InventoryClientError(Exception):
    """A failure to get an inventory; the message is complete and meant for the operator."""


class ServerUnreachableError(InventoryClientError):
    """No answer at all: nothing listens at the endpoint, or the server did not answer in time.

    Unlike an error the server answered with, this says nothing about the inventory, so a caller may fall back to
    a copy it kept.
    """


class Endpoint:
    """Where the server listens: a Unix socket path or a TCP host:port."""

    def __init__(self, text: str, target: str, socket_path: str | None = None) -> None:
        self.text = text
        self.target = target
        self.socket_path = socket_path

    @property
    def listen_argument(self) -> str:
        """The server's --listen value for this endpoint."""
        return f'unix:{self.socket_path}' if self.socket_path else self.target

    def __str__(self) -> str:
        return self.text


def parse_endpoint(text: str) -> Endpoint:
    """Parses unix:/path, unix:///path (with ~ expanded) or host:port; raises ValueError naming the accepted forms."""
    value = (text or '').strip()
    if value.startswith('unix:'):
        return _parse_unix_endpoint(value)
    match = _HOST_PORT.match(value)
    if not match or not 0 < int(match.group('port')) < 65536:
        raise ValueError(f"endpoint {text!r} is not valid: use unix:/path/to/inventory.sock, "
                         f"unix:///path/to/inventory.sock or host:port (for example 127.0.0.1:50051)")
    return Endpoint(value, value)


def _parse_unix_endpoint(value: str) -> Endpoint:
    path = value[len('unix:'):]
    if path.startswith('//'):
        path = path[2:]
    path = os.path.expanduser(path)
    if not path.startswith('/'):
        raise ValueError(f"endpoint {value!r} is not valid: a socket endpoint needs an absolute path, "
                         f"for example {DEFAULT_ENDPOINT}")
    if len(path.encode('utf-8')) > _MAX_SOCKET_PATH_BYTES:
        raise ValueError(f"endpoint {value!r} is not valid: Unix socket paths are limited to "
                         f"{_MAX_SOCKET_PATH_BYTES} bytes; put the socket in a shorter directory")
    return Endpoint(value, f'unix:{path}', socket_path=path)


class InventoryClient:
    """One channel to the server; use as a context manager so the channel is closed."""

    def __init__(self, endpoint: Endpoint, timeout: float) -> None:
        if GRPC_IMPORT_ERROR is not None:
            raise InventoryClientError(f'the gRPC stubs cannot be loaded: {GRPC_IMPORT_ERROR}')
        self.endpoint = endpoint
        self.timeout = timeout
        self._channel = grpc.insecure_channel(endpoint.target, options=[
            ('grpc.max_receive_message_length', MAX_RECEIVE_MESSAGE_BYTES),
            # The server is local: a proxy from the environment (http_proxy) must not be used to reach it.
            ('grpc.enable_http_proxy', 0),
            ('grpc.primary_user_agent', 'voip.infrastructure'),
        ])
        self._stub = inventory_pb2_grpc.InventoryStub(self._channel)

    def __enter__(self) -> InventoryClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def get_inventory(self, environments: list[str], include_disabled: bool):
        """Returns the GetInventoryResponse: one consistent snapshot, filtered by the server."""
        self._check_socket()
        request = inventory_pb2.GetInventoryRequest(environments=environments, include_disabled=include_disabled)
        try:
            return self._stub.GetInventory(request, timeout=self.timeout)
        except grpc.RpcError as err:
            raise self._error(err) from None

    def get_revision(self):
        """Returns the GetRevisionResponse: the server's current revision, a few bytes either way."""
        self._check_socket()
        try:
            return self._stub.GetRevision(inventory_pb2.GetRevisionRequest(), timeout=self.timeout)
        except grpc.RpcError as err:
            raise self._error(err) from None

    def _check_socket(self) -> None:
        """Names a missing socket plainly; gRPC would report it only as a failed connection."""
        path = self.endpoint.socket_path
        if path is None or os.path.exists(path):
            return
        directory = os.path.dirname(path)
        if os.path.isdir(directory):
            reason = f'there is no socket {path}, so the server is not running or listens elsewhere'
        else:
            reason = f'the socket directory {directory} does not exist, so the server is not running'
        raise ServerUnreachableError(self._unreachable(reason))

    def _error(self, err) -> InventoryClientError:
        code, details = err.code(), err.details() or ''
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return ServerUnreachableError(
                f'the voip-inventory server at {self.endpoint} did not answer within {self.timeout:g} seconds. '
                f"Raise the plugin's 'timeout' option (env VOIP_INVENTORY_TIMEOUT) if the inventory is large, "
                f"or look at the server's log (journalctl -u voip-inventory) to see why it is slow")
        if code == grpc.StatusCode.UNAVAILABLE and 'failed to connect' in details:
            # Refused by the socket's permissions is an answer about this user, not an absent server.
            if 'Permission denied' in details:
                return InventoryClientError(
                    f'permission denied on the socket of the voip-inventory server ({self.endpoint}). '
                    f'The socket is open only to the server\'s user and group: add this user to the '
                    f'socket\'s group (ls -l {self.endpoint.socket_path} shows it) and log in again')
            return ServerUnreachableError(self._unreachable(details))
        return InventoryClientError(f'the voip-inventory server at {self.endpoint} answered {code.name}: {details}')

    def _unreachable(self, reason: str) -> str:
        return (f'cannot reach the voip-inventory server at {self.endpoint}: {reason}. '
                f"Start it with 'voip-inventory serve --listen {self.endpoint.listen_argument}' "
                f"(or 'systemctl start voip-inventory'), or set the plugin's 'endpoint' option "
                f'(env VOIP_INVENTORY_ENDPOINT) to where it listens')
