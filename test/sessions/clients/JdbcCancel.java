// pgJDBC against pyglite: Statement.cancel() from another thread stops SQL, a Python loop and a Python
// sleep (57014) and the connection goes on; setQueryTimeout (a cancel sent by the driver's timer) too.
import java.sql.*;

public class JdbcCancel {
  public static void main(String[] args) throws Exception {
    try (Connection c = DriverManager.getConnection(args[0], "postgres", "")) {
      for (String sql : new String[] {"SELECT pg_sleep(60)", "SELECT py_loop()", "SELECT py_sleep()"}) {
        Statement st = c.createStatement();
        Thread t = new Thread(() -> {
          try { Thread.sleep(500); st.cancel(); } catch (Exception e) { throw new RuntimeException(e); }
        });
        long t0 = System.nanoTime();
        t.start();
        try {
          st.executeQuery(sql);
          System.out.println(sql + "=no error");
        } catch (SQLException e) {
          long ms = (System.nanoTime() - t0) / 1_000_000 - 500;
          System.out.println(sql + "=" + e.getSQLState() + "|" + e.getMessage().split("\n")[0] + "|" + (ms < 1000 ? "fast" : "slow " + ms));
        }
        t.join();
        try (ResultSet rs = st.executeQuery("SELECT 6 * 7")) { rs.next(); System.out.println(sql + ".after=" + rs.getInt(1)); }
      }
      try (PreparedStatement ps = c.prepareStatement("SELECT py_loop()")) {
        ps.setQueryTimeout(1);
        ps.executeQuery();
        System.out.println("querytimeout=no error");
      } catch (SQLException e) {
        System.out.println("querytimeout=" + e.getSQLState());
      }
    }
  }
}
