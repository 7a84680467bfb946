package voip.inventory.snapshot;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import voip.inventory.v1.GetHostResponse;
import voip.inventory.v1.GetInventoryResponse;
import voip.inventory.v1.Group;
import voip.inventory.v1.Host;

/**
 * The whole inventory as read in one transaction, at one revision. Immutable; each host is held
 * encoded, and the rest of the response for a filter is encoded once and reused while this
 * snapshot is current.
 */
public final class InventorySnapshot {
  /** Host names in the order of their Unicode code points, the same in every snapshot. */
  static final Comparator<String> NAME_ORDER = InventorySnapshot::compareCodePoints;

  private static final int MAX_CACHED_RESPONSES = 4;
  private static final InventoryFilter EVERYTHING = new InventoryFilter(Set.of(), true);

  private final long revision;
  private final Instant readTime;
  private final String allVarsJson;
  private final List<HostEntry> entries;
  private final List<GroupRow> groupRows;
  private final boolean fromDatabase;
  private final Map<Integer, String> groupNames;
  private final Map<InventoryFilter, EncodedResponse> responses = new ConcurrentHashMap<>();
  private volatile List<GroupEntry> groups;

  /**
   * @param entries every host, in {@link #NAME_ORDER}
   * @param groupRows every group, in {@link #NAME_ORDER}
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
    Map<Integer, String> names = new HashMap<>(groupRows.size() * 2);
    for (GroupRow row : groupRows) {
      names.put(row.id(), row.name());
    }
    this.groupNames = names;
  }

  /**
   * Every group with its member hosts, built when a response is first encoded: a refresh that
   * only GetHost sees (it needs a host's own groups) never walks every host's memberships.
   */
  private List<GroupEntry> groups() {
    List<GroupEntry> built = groups;
    if (built == null) {
      synchronized (this) {
        built = groups;
        if (built == null) {
          built = groupEntries();
          groups = built;
        }
      }
    }
    return built;
  }

  private List<GroupEntry> groupEntries() {
    Map<Integer, List<String>> members = new HashMap<>(groupRows.size() * 2);
    for (HostEntry entry : entries) {
      for (int groupId : entry.groupIds()) {
        members.computeIfAbsent(groupId, id -> new ArrayList<>()).add(entry.name());
      }
    }
    List<GroupEntry> groupEntries = new ArrayList<>(groupRows.size());
    for (GroupRow row : groupRows) {
      groupEntries.add(new GroupEntry(row.name(), row.description(), row.varsJson(),
          members.getOrDefault(row.id(), List.of()), row.children()));
    }
    return List.copyOf(groupEntries);
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
    sortedChanges.sort(Comparator.comparing(HostEntry::name, NAME_ORDER));
    List<HostEntry> merged = new ArrayList<>(entries.size() + changed.size());
    int next = 0;
    for (HostEntry entry : entries) {
      if (changedIds.contains(entry.id())) {
        continue;
      }
      while (next < sortedChanges.size()
          && NAME_ORDER.compare(sortedChanges.get(next).name(), entry.name()) < 0) {
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
    return entries.size();
  }

  /**
   * One host, disabled or not, with the groups it is a direct member of in name order. Found by
   * binary search in the name-ordered hosts, so a new snapshot needs no index of its own before
   * it can answer.
   */
  public Optional<GetHostResponse> host(String name) {
    HostEntry entry = find(name);
    if (entry == null) {
      return Optional.empty();
    }
    List<String> groupsOfHost = new ArrayList<>(entry.groupIds().length);
    for (int groupId : entry.groupIds()) {
      String group = groupNames.get(groupId);
      if (group != null) {
        groupsOfHost.add(group);
      }
    }
    groupsOfHost.sort(NAME_ORDER);
    return Optional.of(GetHostResponse.newBuilder()
        .setHost(entry.host())
        .addAllGroups(groupsOfHost)
        .setRevision(revision)
        .build());
  }

  /**
   * The entry with this snapshot's arrays and strings where the host's encoding is unchanged, so
   * that a full re-read keeps one copy of each unchanged host and the fresh copies die young:
   * the heap then holds about one snapshot's hosts during a full refresh, not two.
   */
  HostEntry sharing(HostEntry fresh) {
    HostEntry previous = find(fresh.name());
    if (previous == null || !Arrays.equals(previous.encoded(), fresh.encoded())) {
      return fresh;
    }
    return new HostEntry(fresh.id(), previous.name(), previous.environment(), fresh.enabled(),
        previous.encoded(), fresh.groupIds());
  }

  private HostEntry find(String name) {
    int low = 0;
    int high = entries.size() - 1;
    while (low <= high) {
      int middle = (low + high) >>> 1;
      HostEntry entry = entries.get(middle);
      int order = NAME_ORDER.compare(entry.name(), name);
      if (order < 0) {
        low = middle + 1;
      } else if (order > 0) {
        high = middle - 1;
      } else {
        return entry;
      }
    }
    return null;
  }

  /** Rebuilds a snapshot from a complete response, as {@link #encodedResponse} gives it. */
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
      hosts.add(HostEntry.of(hosts.size(), host, groupIds));
    }
    hosts.sort(Comparator.comparing(HostEntry::name, NAME_ORDER));
    Instant readTime = Instant.ofEpochSecond(
        response.getReadTime().getSeconds(), response.getReadTime().getNanos());
    return new InventorySnapshot(
        response.getRevision(), readTime, response.getAllVarsJson(), hosts, groups, false);
  }

  /** Every host, disabled ones too, in every environment, encoded. */
  public EncodedResponse encodedCompleteResponse() {
    return encodedResponse(EVERYTHING);
  }

  /** Every host, disabled ones too, in every environment. */
  public GetInventoryResponse toCompleteResponse() {
    EncodedResponse encoded = encodedCompleteResponse();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(encoded.length());
    try {
      encoded.writeTo(bytes);
      return GetInventoryResponse.parseFrom(bytes.toByteArray());
    } catch (IOException e) {
      throw new UncheckedIOException("the snapshot's own encoding does not parse", e);
    }
  }

  /**
   * The response for a filter, encoded: hosts it keeps, every group with members among those
   * hosts. The hosts are the snapshot's own encoded hosts; the rest is encoded once and reused
   * while this snapshot is current, for the first few filters asked.
   */
  public EncodedResponse encodedResponse(InventoryFilter filter) {
    EncodedResponse cached = responses.get(filter);
    if (cached != null) {
      return cached;
    }
    EncodedResponse response = encode(filter);
    if (responses.size() < MAX_CACHED_RESPONSES) {
      EncodedResponse raced = responses.putIfAbsent(filter, response);
      return raced != null ? raced : response;
    }
    return response;
  }

  private EncodedResponse encode(InventoryFilter filter) {
    List<byte[]> kept = new ArrayList<>(entries.size());
    Set<String> keptNames = filter.keepsAll() ? null : new HashSet<>();
    for (HostEntry entry : entries) {
      if (filter.keeps(entry.enabled(), entry.environment())) {
        kept.add(entry.encoded());
        if (keptNames != null) {
          keptNames.add(entry.name());
        }
      }
    }
    GetInventoryResponse.Builder head = GetInventoryResponse.newBuilder()
        .setRevision(revision)
        .setAllVarsJson(allVarsJson)
        .setReadTime(timestamp(readTime));
    for (GroupEntry group : groups()) {
      head.addGroups(group.toMessage(keptNames));
    }
    return new EncodedResponse(head.build().toByteArray(), kept, new byte[0]);
  }

  static Timestamp timestamp(Instant instant) {
    return Timestamp.newBuilder()
        .setSeconds(instant.getEpochSecond())
        .setNanos(instant.getNano())
        .build();
  }

  /**
   * A host as read from the database, kept encoded: the bulk of a snapshot's memory is the
   * hosts' variables, and each whole-inventory response is these bytes one after another.
   *
   * @param id vm_configs.id
   * @param encoded the host as a GetInventoryResponse.hosts field: tag, length, Host
   * @param groupIds the ids of the groups it is a direct member of
   */
  record HostEntry(
      int id, String name, String environment, boolean enabled, byte[] encoded, int[] groupIds) {
    static HostEntry of(int id, Host host, int[] groupIds) {
      byte[] encoded = GetInventoryResponse.newBuilder().addHosts(host).build().toByteArray();
      return new HostEntry(
          id, host.getName(), host.getEnvironment(), host.getEnabled(), encoded, groupIds);
    }

    Host host() {
      try {
        return GetInventoryResponse.parseFrom(encoded).getHosts(0);
      } catch (InvalidProtocolBufferException e) {
        throw new IllegalStateException("a snapshot host does not parse", e);
      }
    }
  }

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

  /** A group with all its direct member hosts and child groups, in name order. */
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
}
