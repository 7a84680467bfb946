package voip.inventory.snapshot;

import java.util.Set;
import java.util.TreeSet;
import voip.inventory.v1.Host;

/**
 * Which hosts a whole-inventory request wants.
 *
 * @param environments the environments to include; empty means all
 * @param includeDisabled whether hosts whose enabled flag is not true are included
 */
public record InventoryFilter(Set<String> environments, boolean includeDisabled) {
  public InventoryFilter {
    environments = Set.copyOf(new TreeSet<>(environments));
  }

  /** Whether the filter keeps every host. */
  public boolean keepsAll() {
    return environments.isEmpty() && includeDisabled;
  }

  /** Whether the filter keeps this host. */
  public boolean keeps(Host host) {
    return (includeDisabled || host.getEnabled())
        && (environments.isEmpty() || environments.contains(host.getEnvironment()));
  }
}
