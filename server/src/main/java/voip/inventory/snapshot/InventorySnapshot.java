package voip.inventory.snapshot;

import com.google.protobuf.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
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

  /** Host names in the order of their Unicode code points, the same in every snapshot. */
  static final Comparator<String> NAME_ORDER = InventorySnapshot::compareCodePoints;

  private final long revision;
  private final Instant readTime;
  private final String allVarsJson;
  private final List<HostEntry> entries;
  private final List<GroupRow> groupRows;
  private final boolean fromDatabase;
  private final List<Host> hosts;
  private final List<GroupEntry> groups;
  private final Map<InventoryFilter, byte[]> responses = new ConcurrentHashMap<>();
  private volatile HostIndex hostIndex;

  /**
   * @param entries every host, in {@link #NAME_ORDER}
   * @param groupRows every group, in name order
   * @param fromDatabase whether the ids are the database's, so that the snapshot can be
   *     brought up to date from the change log; not so for a snapshot loaded from a file
   */
  InventorySnapshot(
      long revision,
      Instant readTime,
      String allVarsJson,
      List<HostEntry> entries,
      List<GroupRow> groupRows,
      boolean fromDatabase) {
    this.revision = revision;
    this.readTime = readTime;
    this.allVarsJson = allVarsJson;
    this.entries = List.copyOf(entries);
    this.groupRows = List.copyOf(groupRows);
    this.fromDatabase = fromDatabase;
    List<Host> hostMessages = new ArrayList<>(entries.size());
    Map<Integer, List<String>> members = new HashMap<>();
    for (HostEntry entry : entries) {
      hostMessages.add(entry.host());
      for (int groupId : entry.groupIds()) {
        members.computeIfAbsent(groupId, id -> new ArrayList<>()).add(entry.host().getName());
      }
    }
    this.hosts = List.copyOf(hostMessages);
    List<GroupEntry> groupEntries = new ArrayList<>(groupRows.size());
    for (GroupRow row : groupRows) {
      groupEntries.add(new GroupEntry(row.name(), row.description(), row.varsJson(),
          members.getOrDefault(row.id(), List.of()), row.children()));
    }
    this.groups = List.copyOf(groupEntries);
  }

  /**
   * This snapshot with some hosts replaced, added or removed, at a later revision: the groups
   * and the all group's variables stay.
   *
   * @param changedIds the ids of every host that changed, removed ones included
   * @param changed the current rows of those that still exist, in any order
   */
  InventorySnapshot withHosts(
      long newRevision, Instant newReadTime, Set<Integer> changedIds, List<HostEntry> changed) {
    List<HostEntry> sortedChanges = new ArrayList<>(changed);
    sortedChanges.sort(Comparator.comparing(entry -> entry.host().getName(), NAME_ORDER));
    List<HostEntry> merged = new ArrayList<>(entries.size() + changed.size());
    int next = 0;
    for (HostEntry entry : entries) {
      if (changedIds.contains(entry.id())) {
        continue;
      }
      while (next < sortedChanges.size() && NAME_ORDER.compare(
          sortedChanges.get(next).host().getName(), entry.host().getName()) < 0) {
        merged.add(sortedChanges.get(next++));
      }
      merged.add(entry);
    }
    merged.addAll(sortedChanges.subList(next, sortedChanges.size()));
    return new InventorySnapshot(
        newRevision, newReadTime, allVarsJson, merged, groupRows, fromDatabase);
  }

  /** Whether the change log can bring this snapshot up to date (see the constructor). */
  boolean fromDatabase() {
    return fromDatabase;
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
    List<GroupRow> groups = new ArrayList<>(response.getGroupsCount());
    Map<String, List<Integer>> groupIdsOfHost = new HashMap<>();
    for (Group group : response.getGroupsList()) {
      int id = groups.size(); // the file has no database ids; positions stand in for them
      groups.add(new GroupRow(id, group.getName(), group.getDescription(), group.getVarsJson(),
          List.copyOf(group.getChildrenList())));
      for (String host : group.getHostsList()) {
        groupIdsOfHost.computeIfAbsent(host, name -> new ArrayList<>()).add(id);
      }
    }
    List<HostEntry> hosts = new ArrayList<>(response.getHostsCount());
    for (Host host : response.getHostsList()) {
      int[] groupIds = groupIdsOfHost.getOrDefault(host.getName(), List.of()).stream()
          .mapToInt(Integer::intValue).toArray();
      hosts.add(new HostEntry(hosts.size(), host, groupIds));
    }
    hosts.sort(Comparator.comparing(entry -> entry.host().getName(), NAME_ORDER));
    Instant readTime = Instant.ofEpochSecond(
        response.getReadTime().getSeconds(), response.getReadTime().getNanos());
    return new InventorySnapshot(
        response.getRevision(), readTime, response.getAllVarsJson(), hosts, groups, false);
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

  /**
   * A host as read from the database.
   *
   * @param id vm_configs.id
   * @param groupIds the ids of the groups it is a direct member of
   */
  record HostEntry(int id, Host host, int[] groupIds) {}

  /** A group as read from the database: its own columns and its child groups, by name. */
  record GroupRow(
      int id, String name, String description, String varsJson, List<String> children) {}

  /** Compares by Unicode code point, as PostgreSQL's "C" collation does for UTF-8. */
  static int compareCodePoints(String left, String right) {
    int i = 0;
    int j = 0;
    while (i < left.length() && j < right.length()) {
      int a = left.codePointAt(i);
      int b = right.codePointAt(j);
      if (a != b) {
        return Integer.compare(a, b);
      }
      i += Character.charCount(a);
      j += Character.charCount(b);
    }
    return Integer.compare(left.length() - i, right.length() - j);
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
