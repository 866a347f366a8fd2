package sentimentstream.helm;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * Runs Helm's own engine (helm-java embeds Helm's Go library) on a chart: `helm lint --strict` once,
 * then `helm template` once per value set, all in one JVM so the native library loads once.
 *
 * <pre>
 * java -cp ... sentimentstream.helm.HelmRender CHART OUT_DIR KUBE_VERSION [CASE VALUES_FILE|-]...
 * </pre>
 *
 * Writes OUT_DIR/helm-version.txt, OUT_DIR/lint.txt ("failed=true|false" then the messages), and for
 * each case OUT_DIR/CASE.yaml (the rendered manifest) or OUT_DIR/CASE.error.txt (Helm's error, e.g.
 * a values.schema.json rejection or a template `fail`). The tests decide what is expected; this
 * class only reports, so one failing case never hides the others.
 */
public final class HelmRender {
  public static void main(String[] args) throws IOException {
    if (args.length < 3 || (args.length - 3) % 2 != 0) {
      System.err.println("usage: HelmRender CHART OUT_DIR KUBE_VERSION [CASE VALUES_FILE|-]...");
      System.exit(2);
    }
    Path chart = Paths.get(args[0]);
    Path out = Files.createDirectories(Paths.get(args[1]));
    String kubeVersion = args[2];
    Helm helm = new Helm(chart);

    write(out.resolve("helm-version.txt"), Helm.version().call());

    LintResult lint = helm.lint().strict().call();
    write(out.resolve("lint.txt"), "failed=" + lint.isFailed() + "\n" + String.join("\n", lint.getMessages()));

    for (int i = 3; i < args.length; i += 2) {
      String name = args[i];
      String values = args[i + 1];
      Files.deleteIfExists(out.resolve(name + ".yaml"));
      Files.deleteIfExists(out.resolve(name + ".error.txt"));
      // A fixed release name and namespace keep the rendered names predictable for the assertions.
      TemplateCommand template = helm.template().withName("sst").withNamespace("sentiment").withKubeVersion(kubeVersion);
      if (!values.equals("-")) template = template.withValuesFile(Paths.get(values));
      try {
        write(out.resolve(name + ".yaml"), template.call());
      } catch (RuntimeException e) {
        // helm-java surfaces Helm's error text as the exception message.
        write(out.resolve(name + ".error.txt"), String.valueOf(e.getMessage()));
      }
    }
  }

  private static void write(Path file, String text) throws IOException {
    Files.write(file, text.getBytes(StandardCharsets.UTF_8));
  }
}
