// Reads one URI per line (UTF-8) and prints what `new java.net.URI(line)` makes of it: "ok",
// the scheme and whether there is a fragment, or "refused". Run by the test
// java_uri_parses_as_the_jdk_of_real_keycloak with the JDK Keycloak runs on
// (`java tests/data/JavaUri.java`).
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;

public class JavaUri {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        for (String line; (line = in.readLine()) != null; ) {
            try {
                URI uri = new URI(line);
                String scheme = uri.getScheme() == null ? "" : uri.getScheme();
                out.println("ok " + scheme + " " + (uri.getFragment() != null));
            } catch (Exception e) {
                out.println("refused");
            }
        }
        out.flush();
    }
}
