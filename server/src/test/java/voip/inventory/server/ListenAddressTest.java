package voip.inventory.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ListenAddressTest {
  @Test
  void unixPathsInBothSpellings() {
    assertThat(ListenAddress.parse("unix:/run/voip-inventory/inventory.sock"))
        .isEqualTo(new ListenAddress.Unix(Path.of("/run/voip-inventory/inventory.sock")));
    assertThat(ListenAddress.parse("unix:///run/x.sock"))
        .isEqualTo(new ListenAddress.Unix(Path.of("/run/x.sock")));
  }

  @Test
  void loopbackTcp() {
    assertThat(ListenAddress.parse("127.0.0.1:50051").toString()).isEqualTo("127.0.0.1:50051");
    assertThat(ListenAddress.parse("[::1]:50051").toString()).isEqualTo("[0:0:0:0:0:0:0:1]:50051");
  }

  @Test
  void relativeSocketPathIsRefused() {
    assertThatThrownBy(() -> ListenAddress.parse("unix:inventory.sock"))
        .hasMessageContaining("must be absolute");
  }

  @Test
  void nonLoopbackAndBadPortsAreRefused() {
    assertThatThrownBy(() -> ListenAddress.parse("0.0.0.0:50051"))
        .hasMessageContaining("not a loopback");
    assertThatThrownBy(() -> ListenAddress.parse("127.0.0.1:http"))
        .hasMessageContaining("not a port");
    assertThatThrownBy(() -> ListenAddress.parse("inventory.sock"))
        .hasMessageContaining("unix:/path");
  }
}
