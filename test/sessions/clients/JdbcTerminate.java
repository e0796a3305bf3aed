// pgJDBC: pg_terminate_backend(pid) from another connection ends a session (its next statement fails with
// 57P01), and pg_cancel_backend(pid) cancels a statement waiting for another session's transaction (57014).
import java.sql.*;

public class JdbcTerminate {
  static int pid(Connection c) throws SQLException {
    return c.unwrap(org.postgresql.PGConnection.class).getBackendPID();
  }

  public static void main(String[] args) throws Exception {
    String url = args[0];
    try (Connection victim = DriverManager.getConnection(url, "postgres", "");
         Connection admin = DriverManager.getConnection(url, "postgres", "")) {
      try (Statement s = admin.createStatement();
           ResultSet r = s.executeQuery("SELECT pg_terminate_backend(" + pid(victim) + ")")) {
        r.next();
        System.out.println("terminated=" + r.getBoolean(1));
      }
      try (Statement s = victim.createStatement()) {
        s.executeQuery("SELECT 1");
        System.out.println("state=none");
      } catch (SQLException e) {
        System.out.println("state=" + e.getSQLState());
      }
      try (Connection holder = DriverManager.getConnection(url, "postgres", "");
           Connection waiter = DriverManager.getConnection(url, "postgres", "")) {
        holder.setAutoCommit(false);
        holder.createStatement().execute("SELECT 1");
        final String[] got = {"none"};
        Thread t = new Thread(() -> {
          try (Statement s = waiter.createStatement()) {
            s.executeQuery("SELECT 2");
          } catch (SQLException e) {
            got[0] = e.getSQLState();
          }
        });
        t.start();
        int w = pid(waiter);
        for (int i = 0; i < 400; i++) {
          try (Statement s = admin.createStatement();
               ResultSet r = s.executeQuery("SELECT count(*) FROM pg_stat_activity WHERE pid = " + w + " AND wait_event_type = 'Lock'")) {
            r.next();
            if (r.getInt(1) == 1) break;
          }
          Thread.sleep(25);
        }
        admin.createStatement().execute("SELECT pg_cancel_backend(" + w + ")");
        t.join(10000);
        holder.rollback();
        System.out.println("cancelState=" + got[0]);
      }
    }
  }
}
