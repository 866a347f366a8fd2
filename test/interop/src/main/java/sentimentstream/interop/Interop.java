package sentimentstream.interop;

import java.util.HashMap;
import java.util.Map;

/**
 * Entry point of the interop tools: {@code produce} (Apache Kafka's Java producer) and
 * {@code consume} (its Java consumer). Options are {@code --name value} pairs; the records go
 * through stdin and stdout as JSON lines (see Produce and Consume). A failure prints one line on
 * stderr and exits non-zero, so the TypeScript wrapper can show it as it is.
 */
public final class Interop {
  private Interop() {}

  public static void main(String[] args) {
    if (args.length == 0) {
      System.err.println("usage: Interop produce|consume --brokers HOST:PORT[,...] --topic T [options]");
      System.exit(2);
    }
    int rc;
    try {
      Map<String, String> opts = parse(args);
      switch (args[0]) {
        case "produce" -> rc = Produce.run(opts);
        case "consume" -> rc = Consume.run(opts);
        default -> throw new IllegalArgumentException("unknown command '" + args[0] + "' (produce or consume)");
      }
    } catch (Exception e) {
      System.err.println("interop " + args[0] + ": " + describe(e));
      rc = 1;
    }
    System.out.flush();
    // The clients' threads are closed by then; exit explicitly so no stray non-daemon thread holds the JVM.
    System.exit(rc);
  }

  static Map<String, String> parse(String[] args) {
    Map<String, String> opts = new HashMap<>();
    for (int i = 1; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--") || i + 1 >= args.length) {
        throw new IllegalArgumentException("expected --name value, got '" + a + "'");
      }
      opts.put(a.substring(2), args[++i]);
    }
    return opts;
  }

  static String required(Map<String, String> opts, String name) {
    String v = opts.get(name);
    if (v == null || v.isEmpty()) throw new IllegalArgumentException("--" + name + " is required");
    return v;
  }

  static int intOpt(Map<String, String> opts, String name, int dflt) {
    String v = opts.get(name);
    if (v == null) return dflt;
    try {
      return Integer.parseInt(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--" + name + " must be an integer, got '" + v + "'");
    }
  }

  /** The exception and its causes on one line: what the caller needs to see the broker's error. */
  static String describe(Throwable e) {
    StringBuilder sb = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (sb.length() > 0) sb.append(" <- ");
      sb.append(t.getClass().getSimpleName()).append(": ").append(t.getMessage());
      if (t.getCause() == t) break;
    }
    return sb.toString();
  }
}
