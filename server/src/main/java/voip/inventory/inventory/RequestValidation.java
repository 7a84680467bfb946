package voip.inventory.inventory;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/** Checks request fields against the limits of the schema, before any database work. */
final class RequestValidation {
  static final int MAX_ENVIRONMENT_LENGTH = 50;
  static final int MAX_HOST_NAME_LENGTH = 255;
  static final int MAX_ENVIRONMENTS = 1000;

  private RequestValidation() {}

  static void checkEnvironments(java.util.List<String> environments) {
    if (environments.size() > MAX_ENVIRONMENTS) {
      throw invalid("environments has " + environments.size() + " values; ask for at most "
          + MAX_ENVIRONMENTS + ", or none for all environments");
    }
    for (int i = 0; i < environments.size(); i++) {
      checkName("environments[" + i + "]", environments.get(i), MAX_ENVIRONMENT_LENGTH,
          "an environment name such as \"production\"");
    }
  }

  static void checkHostName(String name) {
    checkName("name", name, MAX_HOST_NAME_LENGTH, "the inventory hostname (vm_configs.vm_name)");
  }

  private static void checkName(String field, String value, int maxLength, String expected) {
    if (value.isEmpty()) {
      throw invalid(field + " is empty; give " + expected);
    }
    int length = value.codePointCount(0, value.length());
    if (length > maxLength) {
      throw invalid(field + " is " + length + " characters long; the inventory allows at most "
          + maxLength);
    }
    if (value.codePoints().anyMatch(Character::isISOControl)) {
      throw invalid(field + " contains control characters; give " + expected);
    }
  }

  private static StatusRuntimeException invalid(String description) {
    return Status.INVALID_ARGUMENT.withDescription(description).asRuntimeException();
  }
}
