package voip.inventory.server;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;

/**
 * Where the server listens: a Unix socket ({@code unix:/path} or {@code unix:///path}) or a TCP
 * port on a loopback address ({@code 127.0.0.1:PORT}, {@code [::1]:PORT}). The server has no
 * authentication of its own, so it never listens on other addresses.
 */
public sealed interface ListenAddress {
  /** A Unix domain socket at an absolute path. */
  record Unix(Path path) implements ListenAddress {
    @Override
    public String toString() {
      return "unix:" + path;
    }
  }

  /** A TCP port on a loopback address. */
  record Tcp(InetSocketAddress address) implements ListenAddress {
    @Override
    public String toString() {
      String host = address.getAddress().getHostAddress();
      return (host.contains(":") ? "[" + host + "]" : host) + ":" + address.getPort();
    }
  }

  /** Parses a --listen value; the message of a failure says what is accepted. */
  static ListenAddress parse(String text) {
    if (text.startsWith("unix:")) {
      String path = text.substring("unix:".length());
      if (path.startsWith("//")) {
        path = path.substring(2);
      }
      if (!path.startsWith("/")) {
        throw invalid(text,
            "the socket path must be absolute, as in unix:/run/voip-inventory/inventory.sock");
      }
      return new Unix(Path.of(path).normalize());
    }
    int colon = text.lastIndexOf(':');
    if (colon <= 0) {
      throw invalid(text, "give unix:/path/to.sock or 127.0.0.1:PORT");
    }
    String host = text.substring(0, colon).replace("[", "").replace("]", "");
    int port = port(text, text.substring(colon + 1));
    InetAddress address;
    try {
      address = InetAddress.getByName(host);
    } catch (UnknownHostException e) {
      throw invalid(text, "unknown host '" + host + "'; give 127.0.0.1:PORT");
    }
    if (!address.isLoopbackAddress()) {
      throw invalid(text, host + " is not a loopback address; the server has no authentication,"
          + " so it listens only on a Unix socket or on 127.0.0.1/[::1]");
    }
    return new Tcp(new InetSocketAddress(address, port));
  }

  private static int port(String text, String portText) {
    try {
      int port = Integer.parseInt(portText);
      if (port >= 0 && port < 65536) {
        return port;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw invalid(text, "'" + portText + "' is not a port number (0-65535)");
  }

  private static IllegalArgumentException invalid(String text, String why) {
    return new IllegalArgumentException("--listen " + text + ": " + why);
  }
}
