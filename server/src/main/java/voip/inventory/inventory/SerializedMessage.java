package voip.inventory.inventory;

import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import voip.inventory.snapshot.EncodedResponse;

/**
 * A gRPC marshaller for the whole-inventory response, which the snapshot holds encoded: its
 * parts go to the wire as they are, instead of a message being serialised on every call (at
 * 10,000 hosts, ~15 ms of a ~30 ms call). grpc-java's examples show the technique with a
 * byte-array marshaller; this one also tells the framer the length and drains the parts in
 * order, so a response of 100 MB is never assembled in one array.
 */
final class SerializedMessage {
  static final MethodDescriptor.Marshaller<EncodedResponse> MARSHALLER = new Marshaller();

  private SerializedMessage() {}

  private static final class Marshaller implements MethodDescriptor.Marshaller<EncodedResponse> {
    @Override
    public InputStream stream(EncodedResponse value) {
      return new Stream(value);
    }

    @Override
    public EncodedResponse parse(InputStream stream) {
      throw new UnsupportedOperationException("the server only sends inventory responses");
    }
  }

  /** The response as a stream the framer sizes and drains; read byte by byte only as a fallback. */
  private static final class Stream extends InputStream implements KnownLength, Drainable {
    private final EncodedResponse response;
    private InputStream fallback;
    private boolean drained;

    Stream(EncodedResponse response) {
      this.response = response;
    }

    @Override
    public int drainTo(OutputStream target) throws IOException {
      if (fallback != null || drained) {
        return (int) opened().transferTo(target);
      }
      drained = true;
      return response.writeTo(target);
    }

    @Override
    public int available() throws IOException {
      if (drained) {
        return 0;
      }
      return fallback == null ? response.length() : fallback.available();
    }

    @Override
    public int read() throws IOException {
      return opened().read();
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
      return opened().read(buffer, offset, length);
    }

    private InputStream opened() throws IOException {
      if (fallback == null) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(response.length());
        if (!drained) {
          response.writeTo(bytes);
        }
        fallback = new ByteArrayInputStream(bytes.toByteArray());
      }
      return fallback;
    }
  }
}
