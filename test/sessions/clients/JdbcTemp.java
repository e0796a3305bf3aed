// pgJDBC: CREATE TEMP TABLE bang while other clients create theirs under the same name; it sees only its own
// (and, in pg_class, everyone's: one per session).
import java.sql.*;

public class JdbcTemp {
  public static void main(String[] args) throws Exception {
    try (Connection c = DriverManager.getConnection(args[0], "postgres", "");
         Statement s = c.createStatement()) {
      s.execute("CREATE TEMP TABLE bang(who text)");
      s.execute("INSERT INTO bang VALUES ('jdbc')");
      Thread.sleep(Long.parseLong(System.getProperty("wait", "1500")));
      StringBuilder rows = new StringBuilder();
      try (ResultSet r = s.executeQuery("SELECT who FROM bang")) {
        while (r.next()) rows.append(r.getString(1)).append(';');
      }
      try (ResultSet r = s.executeQuery("SELECT pg_my_temp_schema()::regnamespace::text, (SELECT string_agg(relnamespace::regnamespace::text, ',' ORDER BY 1) FROM pg_class WHERE relname = 'bang')")) {
        r.next();
        System.out.println("ns=" + r.getString(1));
        System.out.println("bangs=" + r.getString(2));
      }
      System.out.println("rows=" + rows);
    }
  }
}
