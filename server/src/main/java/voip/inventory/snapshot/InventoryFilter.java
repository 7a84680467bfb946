package voip.inventory.snapshot;

import java.util.Set;
import java.util.TreeSet;

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

  /** Whether the filter keeps a host that is enabled or not, in this environment. */
  public boolean keeps(boolean enabled, String environment) {
    return (includeDisabled || enabled)
        && (environments.isEmpty() || environments.contains(environment));
  }
}
