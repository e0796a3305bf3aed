// pgJDBC: the process id the driver got in BackendKeyData is what pg_backend_pid() says.
import java.sql.*;

public class JdbcBackendPid {
  public static void main(String[] args) throws Exception {
    try (Connection c = DriverManager.getConnection(args[0], "postgres", "");
         Statement s = c.createStatement();
         ResultSet r = s.executeQuery("SELECT pg_backend_pid()")) {
      r.next();
      System.out.println("driver=" + c.unwrap(org.postgresql.PGConnection.class).getBackendPID());
      System.out.println("sql=" + r.getInt(1));
    }
  }
}
