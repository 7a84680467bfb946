package voip.inventory.cli;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Parses ages such as 90s, 30m, 24h or 7d. Written here because picocli's built-in Duration
 * converter takes only ISO-8601 (PT24H), which operators rarely write.
 */
final class AgeConverter implements ITypeConverter<Duration> {
  private static final Pattern AGE = Pattern.compile("(\\d{1,9})([smhd])");

  @Override
  public Duration convert(String value) {
    Matcher matcher = AGE.matcher(value.trim());
    if (!matcher.matches()) {
      throw new TypeConversionException("'" + value + "' is not an age: give a number and a unit,"
          + " s, m, h or d, such as 30m or 24h");
    }
    long amount = Long.parseLong(matcher.group(1));
    return switch (matcher.group(2)) {
      case "s" -> Duration.ofSeconds(amount);
      case "m" -> Duration.ofMinutes(amount);
      case "h" -> Duration.ofHours(amount);
      default -> Duration.ofDays(amount);
    };
  }
}
