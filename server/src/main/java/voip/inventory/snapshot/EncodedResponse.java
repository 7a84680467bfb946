package voip.inventory.snapshot;

import java.io.IOException;
import java.io.OutputStream;
import java.util.List;
import voip.inventory.v1.GetInventoryResponse;

/**
 * A GetInventoryResponse in protobuf encoding, held as the parts it is made of: the fields other
 * than the hosts, then each host's field as the snapshot stores it. A protobuf message may list
 * its fields in any order and a repeated field in any number of pieces, so writing the parts one
 * after the other is the response; nothing is copied into one large array.
 *
 * <p>Immutable; the arrays are shared with the snapshot and must never be changed.
 */
public final class EncodedResponse {
  private final byte[] head;
  private final List<byte[]> hosts;
  private final byte[] tail;
  private final int length;

  EncodedResponse(byte[] head, List<byte[]> hosts, byte[] tail) {
    this.head = head;
    this.hosts = hosts;
    this.tail = tail;
    long total = (long) head.length + tail.length;
    for (byte[] host : hosts) {
      total += host.length;
    }
    if (total > Integer.MAX_VALUE) {
      throw new IllegalStateException("the inventory is larger than a protobuf message may be ("
          + total + " bytes): ask for fewer environments");
    }
    this.length = (int) total;
  }

  /** The same response with more fields after it, for example the stale marker. */
  public EncodedResponse followedBy(GetInventoryResponse fields) {
    byte[] more = fields.toByteArray();
    byte[] joined = new byte[tail.length + more.length];
    System.arraycopy(tail, 0, joined, 0, tail.length);
    System.arraycopy(more, 0, joined, tail.length, more.length);
    return new EncodedResponse(head, hosts, joined);
  }

  /** The encoded length in bytes. */
  public int length() {
    return length;
  }

  /** Writes the encoding; returns how many bytes. */
  public int writeTo(OutputStream out) throws IOException {
    out.write(head);
    for (byte[] host : hosts) {
      out.write(host);
    }
    out.write(tail);
    return length;
  }
}
