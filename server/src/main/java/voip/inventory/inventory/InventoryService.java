package voip.inventory.inventory;

import com.google.protobuf.Timestamp;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.util.HashSet;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import voip.inventory.snapshot.InventoryFilter;
import voip.inventory.snapshot.InventoryReader;
import voip.inventory.snapshot.SnapshotStore;
import voip.inventory.v1.GetHostRequest;
import voip.inventory.v1.GetHostResponse;
import voip.inventory.v1.GetInventoryRequest;
import voip.inventory.v1.GetInventoryResponse;
import voip.inventory.v1.GetRevisionRequest;
import voip.inventory.v1.GetRevisionResponse;
import voip.inventory.v1.InventoryGrpc;

/** The voip.inventory.v1.Inventory service. */
public final class InventoryService extends InventoryGrpc.InventoryImplBase {
  private static final Logger logger = Logger.getLogger(InventoryService.class.getName());

  private final InventoryReader reader;
  private final SnapshotStore snapshots;
  private final DatabaseErrors errors;

  public InventoryService(InventoryReader reader, SnapshotStore snapshots, DatabaseErrors errors) {
    this.reader = reader;
    this.snapshots = snapshots;
    this.errors = errors;
  }

  @Override
  public void getInventory(
      GetInventoryRequest request, StreamObserver<GetInventoryResponse> responses) {
    answer(responses, "GetInventory", () -> {
      RequestValidation.checkEnvironments(request.getEnvironmentsList());
      InventoryFilter filter = new InventoryFilter(
          new HashSet<>(request.getEnvironmentsList()), request.getIncludeDisabled());
      return snapshots.current().toResponse(filter);
    });
  }

  @Override
  public void getHost(GetHostRequest request, StreamObserver<GetHostResponse> responses) {
    answer(responses, "GetHost", () -> {
      RequestValidation.checkHostName(request.getName());
      return reader.readHost(request.getName()).orElseThrow(() -> Status.NOT_FOUND
          .withDescription("no host named '" + request.getName() + "' in the inventory")
          .asRuntimeException());
    });
  }

  @Override
  public void getRevision(
      GetRevisionRequest request, StreamObserver<GetRevisionResponse> responses) {
    answer(responses, "GetRevision", () -> {
      InventoryReader.Revision revision = reader.readRevision();
      return GetRevisionResponse.newBuilder()
          .setRevision(revision.revision())
          .setChangedTime(Timestamp.newBuilder()
              .setSeconds(revision.changedAt().getEpochSecond())
              .setNanos(revision.changedAt().getNano()))
          .build();
    });
  }

  private <T> void answer(StreamObserver<T> responses, String method, Supplier<T> work) {
    T response;
    try {
      response = work.get();
    } catch (StatusRuntimeException e) {
      logger.log(Level.FINE, method + " refused: {0}", e.getStatus());
      responses.onError(e);
      return;
    } catch (RuntimeException e) {
      Status status = errors.toStatus(e);
      logger.log(Level.FINE, method + " failed: " + status, e);
      responses.onError(status.asRuntimeException());
      return;
    }
    responses.onNext(response);
    responses.onCompleted();
  }
}
