package voip.inventory.inventory;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * How many bytes of whole-inventory responses may be on their way to clients at once.
 *
 * <p>grpc-java frames a unary response whole into Netty's direct buffers as soon as it is sent,
 * and there it stays until the client has read it. At 100,000 hosts a response is ~100 MB, so a
 * few callers at once used to exhaust the JVM's direct memory: the calls failed and the server
 * logged OutOfMemoryError. Instead, a response takes its size from this budget before it is sent
 * and gives it back when its call ends; a response that does not fit waits, first come first
 * served, until earlier ones are through. One response larger than the whole budget is sent on
 * its own. This class only counts and queues; gRPC and Netty do the sending.
 *
 * <p>grpc-java has no such limit for a single message (flow control only paces what is already
 * buffered), and neither Netty nor the JDK offers a byte-counting queue with cancellation, hence
 * this class.
 */
final class ResponseBudget {
  private final long capacity;
  private long inFlight;
  private final ArrayDeque<Lease> waiting = new ArrayDeque<>();

  ResponseBudget(long capacity) {
    if (capacity <= 0) {
      throw new IllegalArgumentException("the response budget must be positive: " + capacity);
    }
    this.capacity = capacity;
  }

  /**
   * Half of the JVM's direct memory limit (-XX:MaxDirectMemorySize, which defaults to the heap's
   * maximum): the other half is left for Netty's pools, requests and other buffers.
   */
  static ResponseBudget halfOfDirectMemory() {
    return new ResponseBudget(maxDirectMemory() / 2);
  }

  static long maxDirectMemory() {
    String value = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
        .getVMOption("MaxDirectMemorySize").getValue();
    long bytes = Long.parseLong(value);
    return bytes > 0 ? bytes : Runtime.getRuntime().maxMemory();
  }

  long capacity() {
    return capacity;
  }

  /** Bytes of responses being sent now. */
  synchronized long inFlight() {
    return inFlight;
  }

  /** Responses waiting for room. */
  synchronized int waiting() {
    return waiting.size();
  }

  /** A claim on BYTES of the budget, not yet taken: {@link Lease#start} takes it. */
  Lease lease(long bytes) {
    return new Lease(Math.min(Math.max(bytes, 0), capacity));
  }

  /** One response's share of the budget. */
  final class Lease {
    private final long bytes;
    private Runnable send;
    private boolean holding;
    private boolean sending;
    private boolean releaseAsked;
    private boolean done;

    private Lease(long bytes) {
      this.bytes = bytes;
    }

    /**
     * Runs SEND now if the response fits and nobody is waiting before it, otherwise later, on the
     * thread that makes room. Returns whether it ran now.
     */
    boolean start(Runnable send) {
      synchronized (ResponseBudget.this) {
        if (done) {
          return false;
        }
        if (!waiting.isEmpty() || inFlight + bytes > capacity) {
          this.send = send;
          waiting.add(this);
          return false;
        }
        inFlight += bytes;
        holding = true;
        sending = true;
      }
      sendThenSettle(send);
      return true;
    }

    /**
     * Runs SEND; a release asked for meanwhile (the caller cancelled while the response was being
     * written) takes effect only now, so that the next response does not start while this one is
     * still filling buffers.
     */
    private void sendThenSettle(Runnable send) {
      try {
        send.run();
      } finally {
        boolean release;
        synchronized (ResponseBudget.this) {
          sending = false;
          release = releaseAsked;
        }
        if (release) {
          release();
        }
      }
    }

    /**
     * Gives the bytes back (or leaves the queue) and sends the waiting responses that now fit; if
     * this response is being written right now, once that is done. Call when the call ends,
     * however it ends; calling again does nothing.
     */
    void release() {
      List<Lease> ready = new ArrayList<>();
      synchronized (ResponseBudget.this) {
        if (done) {
          return;
        }
        if (sending) {
          releaseAsked = true;
          return;
        }
        done = true;
        if (holding) {
          inFlight -= bytes;
          holding = false;
        } else {
          waiting.remove(this);
        }
        while (!waiting.isEmpty() && inFlight + waiting.peek().bytes <= capacity) {
          Lease next = waiting.poll();
          inFlight += next.bytes;
          next.holding = true;
          next.sending = true;
          ready.add(next);
        }
      }
      for (Lease next : ready) {
        Runnable send = next.send;
        next.send = null;
        next.sendThenSettle(send);
      }
    }
  }
}
