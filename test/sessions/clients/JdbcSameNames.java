// Two pgJDBC connections whose server-side prepared statements get the same names (S_1, S_2, ...: the driver
// numbers them per connection) for different SQL, used interleaved: each must run its own.
import java.sql.*;

public class JdbcSameNames {
  public static void main(String[] args) throws Exception {
    String url = args[0] + "?prepareThreshold=1";
    try (Connection a = DriverManager.getConnection(url, "postgres", "");
         Connection b = DriverManager.getConnection(url, "postgres", "")) {
      PreparedStatement pa = a.prepareStatement("SELECT ?::int * 10");
      PreparedStatement pb = b.prepareStatement("SELECT ?::text || '-b'");
      StringBuilder out = new StringBuilder();
      for (int i = 0; i < 6; i++) {
        pa.setInt(1, i);
        pb.setString(1, "x" + i);
        try (ResultSet ra = pa.executeQuery(); ResultSet rb = pb.executeQuery()) {
          ra.next();
          rb.next();
          out.append(ra.getInt(1)).append(',').append(rb.getString(1)).append(';');
        }
      }
      System.out.println("rows=" + out);
      try (Statement s = a.createStatement();
           ResultSet r = s.executeQuery("SELECT string_agg(name, ',' ORDER BY name) FROM pg_prepared_statements")) {
        r.next();
        System.out.println("a.names=" + r.getString(1));
      }
      try (Statement s = b.createStatement();
           ResultSet r = s.executeQuery("SELECT string_agg(statement, '|' ORDER BY name) FROM pg_prepared_statements")) {
        r.next();
        System.out.println("b.statements=" + r.getString(1));
      }
    }
  }
}
