package voip.inventory.snapshot;

import com.google.protobuf.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.HashMap;
import java.util.Optional;
import voip.inventory.v1.GetHostResponse;
import voip.inventory.v1.GetInventoryResponse;
import voip.inventory.v1.Group;
import voip.inventory.v1.Host;

/**
 * The whole inventory as read in one transaction, at one revision. Immutable; the encoded response
 * for a filter is built once and reused while this snapshot is current.
 */
public final class InventorySnapshot {
  private static final int MAX_CACHED_RESPONSES = 4;

  private final long revision;
  private final Instant readTime;
  private final String allVarsJson;
  private final List<Host> hosts;
  private final List<GroupEntry> groups;
  private final Map<InventoryFilter, byte[]> responses = new ConcurrentHashMap<>();
  private volatile HostIndex hostIndex;

  InventorySnapshot(
      long revision,
      Instant readTime,
      String allVarsJson,
      List<Host> hosts,
      List<GroupEntry> groups) {
    this.revision = revision;
    this.readTime = readTime;
    this.allVarsJson = allVarsJson;
    this.hosts = List.copyOf(hosts);
    this.groups = List.copyOf(groups);
  }

  public long revision() {
    return revision;
  }

  public Instant readTime() {
    return readTime;
  }

  public int hostCount() {
    return hosts.size();
  }

  /** One host, disabled or not, with the groups it is a direct member of. */
  public Optional<GetHostResponse> host(String name) {
    HostIndex index = hostIndex();
    Host host = index.hosts().get(name);
    if (host == null) {
      return Optional.empty();
    }
    return Optional.of(GetHostResponse.newBuilder()
        .setHost(host)
        .addAllGroups(index.groupsOfHost().getOrDefault(name, List.of()))
        .setRevision(revision)
        .build());
  }

  private HostIndex hostIndex() {
    HostIndex index = hostIndex;
    if (index == null) {
      synchronized (this) {
        index = hostIndex;
        if (index == null) {
          index = HostIndex.of(hosts, groups);
          hostIndex = index;
        }
      }
    }
    return index;
  }

  /** Rebuilds a snapshot from a complete response, as written by {@link #toCompleteResponse()}. */
  public static InventorySnapshot fromCompleteResponse(GetInventoryResponse response) {
    List<GroupEntry> groups = new ArrayList<>(response.getGroupsCount());
    for (Group group : response.getGroupsList()) {
      groups.add(new GroupEntry(group.getName(), group.getDescription(), group.getVarsJson(),
          List.copyOf(group.getHostsList()), List.copyOf(group.getChildrenList())));
    }
    Instant readTime = Instant.ofEpochSecond(
        response.getReadTime().getSeconds(), response.getReadTime().getNanos());
    return new InventorySnapshot(response.getRevision(), readTime, response.getAllVarsJson(),
        response.getHostsList(), groups);
  }

  /** Every host, disabled ones too, in every environment. */
  public GetInventoryResponse toCompleteResponse() {
    return build(new InventoryFilter(Set.of(), true));
  }

  /**
   * The response for a filter, protobuf-encoded: hosts it keeps, every group with members among
   * those hosts. Encoded once and reused while this snapshot is current, for the first few
   * filters asked; each costs as much memory as the response. Callers must not change the array.
   */
  public byte[] serializedResponse(InventoryFilter filter) {
    byte[] cached = responses.get(filter);
    if (cached != null) {
      return cached;
    }
    byte[] response = build(filter).toByteArray();
    if (responses.size() < MAX_CACHED_RESPONSES) {
      byte[] raced = responses.putIfAbsent(filter, response);
      return raced != null ? raced : response;
    }
    return response;
  }

  private GetInventoryResponse build(InventoryFilter filter) {
    List<Host> kept = filter.keepsAll() ? hosts : keptHosts(filter);
    Set<String> keptNames = filter.keepsAll() ? null : names(kept);
    List<Group> groupMessages = new ArrayList<>(groups.size());
    for (GroupEntry group : groups) {
      groupMessages.add(group.toMessage(keptNames));
    }
    return GetInventoryResponse.newBuilder()
        .setRevision(revision)
        .addAllHosts(kept)
        .addAllGroups(groupMessages)
        .setAllVarsJson(allVarsJson)
        .setReadTime(timestamp(readTime))
        .build();
  }

  private List<Host> keptHosts(InventoryFilter filter) {
    List<Host> kept = new ArrayList<>();
    for (Host host : hosts) {
      if (filter.keeps(host)) {
        kept.add(host);
      }
    }
    return kept;
  }

  private static Set<String> names(List<Host> hosts) {
    Set<String> names = new HashSet<>(hosts.size() * 2);
    for (Host host : hosts) {
      names.add(host.getName());
    }
    return names;
  }

  static Timestamp timestamp(Instant instant) {
    return Timestamp.newBuilder()
        .setSeconds(instant.getEpochSecond())
        .setNanos(instant.getNano())
        .build();
  }

  /** A group with all its direct member hosts and child groups, ordered by name. */
  record GroupEntry(
      String name, String description, String varsJson, List<String> hosts, List<String> children) {
    Group toMessage(Set<String> keptHosts) {
      Group.Builder group = Group.newBuilder()
          .setName(name)
          .setDescription(description)
          .setVarsJson(varsJson)
          .addAllChildren(children);
      if (keptHosts == null) {
        return group.addAllHosts(hosts).build();
      }
      for (String host : hosts) {
        if (keptHosts.contains(host)) {
          group.addHosts(host);
        }
      }
      return group.build();
    }
  }

  /** Hosts by name and, for each, its groups in name order; built on the first GetHost. */
  private record HostIndex(Map<String, Host> hosts, Map<String, List<String>> groupsOfHost) {
    static HostIndex of(List<Host> hosts, List<GroupEntry> groups) {
      Map<String, Host> byName = new HashMap<>(hosts.size() * 2);
      for (Host host : hosts) {
        byName.put(host.getName(), host);
      }
      Map<String, List<String>> groupsOfHost = new HashMap<>(hosts.size() * 2);
      for (GroupEntry group : groups) {
        for (String host : group.hosts()) {
          groupsOfHost.computeIfAbsent(host, name -> new ArrayList<>(4)).add(group.name());
        }
      }
      return new HostIndex(byName, groupsOfHost);
    }
  }
}
