package voip.inventory.inventory;

import com.google.protobuf.Duration;
import com.google.protobuf.Timestamp;
import io.grpc.BindableService;
import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.time.Instant;
import java.util.HashSet;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import voip.inventory.snapshot.EncodedResponse;
import voip.inventory.snapshot.InventoryFilter;
import voip.inventory.snapshot.SnapshotStore;
import voip.inventory.v1.GetHostRequest;
import voip.inventory.v1.GetHostResponse;
import voip.inventory.v1.GetInventoryRequest;
import voip.inventory.v1.GetInventoryResponse;
import voip.inventory.v1.GetRevisionRequest;
import voip.inventory.v1.GetRevisionResponse;
import voip.inventory.v1.InventoryGrpc;
import voip.inventory.v1.WatchRequest;
import voip.inventory.v1.WatchResponse;

/** The voip.inventory.v1.Inventory service. */
public final class InventoryService implements InventoryGrpc.AsyncService, BindableService {
  private static final Logger logger = Logger.getLogger(InventoryService.class.getName());

  private final SnapshotStore snapshots;
  private final DatabaseErrors errors;
  private final ResponseBudget budget = ResponseBudget.halfOfDirectMemory();

  /** Serves inventories, hosts and revisions from the store's snapshots. */
  public InventoryService(SnapshotStore snapshots, DatabaseErrors errors) {
    this.snapshots = snapshots;
    this.errors = errors;
  }

  /**
   * How many bytes of whole-inventory responses may be on their way at once: half the JVM's
   * direct memory limit; more callers wait their turn ({@link ResponseBudget}).
   */
  public long responseBudgetBytes() {
    return budget.capacity();
  }

  /**
   * The service as generated, except that GetInventory answers with the snapshot's encoded
   * response ({@link #inventory}). The wire format, the schema that reflection shows and every
   * other method stay as generated.
   */
  @Override
  public ServerServiceDefinition bindService() {
    ServerServiceDefinition generated = InventoryGrpc.bindService(this);
    MethodDescriptor<GetInventoryRequest, GetInventoryResponse> method =
        InventoryGrpc.getGetInventoryMethod();
    MethodDescriptor<GetInventoryRequest, EncodedResponse> encoded =
        method.toBuilder(method.getRequestMarshaller(), SerializedMessage.MARSHALLER).build();
    ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(InventoryGrpc.SERVICE_NAME)
        .setSchemaDescriptor(generated.getServiceDescriptor().getSchemaDescriptor())
        .addMethod(encoded);
    for (ServerMethodDefinition<?, ?> other : generated.getMethods()) {
      if (other.getMethodDescriptor() != method) {
        descriptor.addMethod(other.getMethodDescriptor());
      }
    }
    ServerServiceDefinition.Builder definition = ServerServiceDefinition.builder(descriptor.build())
        .addMethod(encoded, ServerCalls.asyncUnaryCall(this::getInventoryEncoded));
    for (ServerMethodDefinition<?, ?> other : generated.getMethods()) {
      if (other.getMethodDescriptor() != method) {
        definition.addMethod(other);
      }
    }
    return definition.build();
  }

  /**
   * Answers once the response fits in the budget of bytes being sent, and gives them back when
   * the call ends, sent or cancelled (a caller that gives up while waiting leaves the queue).
   */
  private void getInventoryEncoded(
      GetInventoryRequest request, StreamObserver<EncodedResponse> responses) {
    ServerCallStreamObserver<EncodedResponse> call =
        (ServerCallStreamObserver<EncodedResponse>) responses;
    long started = System.nanoTime();
    EncodedResponse response =
        compute(responses, "GetInventory", started, () -> inventory(request));
    if (response == null) {
      return;
    }
    ResponseBudget.Lease lease = budget.lease(response.length());
    call.setOnCancelHandler(() -> {
      logger.fine(() -> "GetInventory cancelled by the client after " + millis(started) + " ms");
      lease.release();
    });
    call.setOnCloseHandler(lease::release);
    boolean now = lease.start(() -> {
      try {
        send(call, "GetInventory", started, response);
      } catch (RuntimeException e) {
        logger.log(Level.FINE, "GetInventory: sending the response failed", e);
        lease.release();
      }
    });
    if (!now) {
      logger.fine(() -> "GetInventory waits to send " + response.length() / 1024 + " KiB: "
          + budget.inFlight() / 1024 + " KiB of responses are being sent, the budget is "
          + budget.capacity() / 1024 + " KiB");
    }
  }

  /**
   * The encoded response. When stale, the stale fields are appended: a protobuf message followed
   * by more fields of the same message decodes as one message with those fields set.
   */
  private EncodedResponse inventory(GetInventoryRequest request) {
    RequestValidation.checkEnvironments(request.getEnvironmentsList());
    InventoryFilter filter = new InventoryFilter(
        new HashSet<>(request.getEnvironmentsList()), request.getIncludeDisabled());
    SnapshotStore.Served served = snapshots.serve();
    EncodedResponse response = served.snapshot().encodedResponse(filter);
    return served.staleAge()
        .map(age -> response.followedBy(GetInventoryResponse.newBuilder()
            .setStale(true).setStaleAge(duration(age)).build()))
        .orElse(response);
  }

  @Override
  public void getHost(GetHostRequest request, StreamObserver<GetHostResponse> responses) {
    answer(responses, "GetHost", () -> {
      RequestValidation.checkHostName(request.getName());
      SnapshotStore.Served served = snapshots.serve();
      GetHostResponse response = served.snapshot().host(request.getName())
          .orElseThrow(() -> Status.NOT_FOUND
              .withDescription("no host named '" + request.getName() + "' in the inventory")
              .asRuntimeException());
      return served.staleAge()
          .map(age -> response.toBuilder().setStale(true).setStaleAge(duration(age)).build())
          .orElse(response);
    });
  }

  @Override
  public void getRevision(
      GetRevisionRequest request, StreamObserver<GetRevisionResponse> responses) {
    answer(responses, "GetRevision", () -> {
      SnapshotStore.RevisionAnswer revision = snapshots.revision();
      GetRevisionResponse.Builder response = GetRevisionResponse.newBuilder()
          .setRevision(revision.revision())
          .setChangedTime(timestamp(revision.changedAt()));
      revision.staleAge().ifPresent(age -> response.setStale(true).setStaleAge(duration(age)));
      return response.build();
    });
  }

  @Override
  public void watch(WatchRequest request, StreamObserver<WatchResponse> responses) {
    ServerCallStreamObserver<WatchResponse> call =
        (ServerCallStreamObserver<WatchResponse>) responses;
    AutoCloseable subscription = snapshots.watch(new SnapshotStore.WatchSink() {
      @Override
      public void send(WatchResponse message) {
        synchronized (call) {
          if (!call.isCancelled()) {
            call.onNext(message);
          }
        }
      }

      @Override
      public void end(Status status) {
        synchronized (call) {
          if (!call.isCancelled()) {
            call.onError(status.asRuntimeException());
          }
        }
      }
    });
    call.setOnCancelHandler(() -> {
      try {
        subscription.close();
      } catch (Exception e) {
        logger.log(Level.FINE, "closing a Watch subscription failed", e);
      }
    });
  }

  private static Timestamp timestamp(Instant instant) {
    return Timestamp.newBuilder()
        .setSeconds(instant.getEpochSecond())
        .setNanos(instant.getNano())
        .build();
  }

  private static Duration duration(java.time.Duration duration) {
    return Duration.newBuilder()
        .setSeconds(duration.getSeconds())
        .setNanos(duration.getNano())
        .build();
  }

  private <T> void answer(StreamObserver<T> responses, String method, Supplier<T> work) {
    long started = System.nanoTime();
    T response = compute(responses, method, started, work);
    if (response != null) {
      send(responses, method, started, response);
    }
  }

  /** The response, or null after answering the call with the error that WORK threw. */
  private <T> T compute(
      StreamObserver<T> responses, String method, long started, Supplier<T> work) {
    try {
      return work.get();
    } catch (StatusRuntimeException e) {
      logger.fine(() -> method + " " + e.getStatus().getCode() + " in " + millis(started) + " ms: "
          + e.getStatus().getDescription());
      responses.onError(e);
      return null;
    } catch (RuntimeException e) {
      Status status = errors.toStatus(e);
      logger.log(Level.FINE, method + " " + status.getCode() + " in " + millis(started) + " ms", e);
      responses.onError(status.asRuntimeException());
      return null;
    }
  }

  private static <T> void send(
      StreamObserver<T> responses, String method, long started, T response) {
    responses.onNext(response);
    responses.onCompleted();
    logger.fine(() -> method + " OK in " + millis(started) + " ms");
  }

  private static String millis(long startedNanos) {
    return String.format("%.1f", (System.nanoTime() - startedNanos) / 1e6);
  }

}
