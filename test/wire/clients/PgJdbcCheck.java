// pgJDBC against pyglite: server-side prepared statements (binary timestamps after prepareThreshold),
// two connections with the same statement names, types, errors, transactions. Prints key=value lines.
import java.math.BigDecimal;
import java.sql.*;
import java.time.OffsetDateTime;
import java.util.Properties;

public class PgJdbcCheck {
  public static void main(String[] args) throws Exception {
    String url = args[0];
    Properties props = new Properties();
    props.setProperty("user", "postgres");
    try (Connection a = DriverManager.getConnection(url, props);
         Connection b = DriverManager.getConnection(url, props)) {
      try (Statement st = a.createStatement()) {
        st.execute("CREATE TABLE jdbc_t(id int primary key, ts timestamp, tz timestamptz, n numeric, s text)");
        st.execute("INSERT INTO jdbc_t VALUES (1, '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.5+00', 12345678901234567890.123, 'héllo')");
      }
      // 8 executions of one prepared statement: from the 5th on pgJDBC uses a named server statement and
      // binary results; timestamps must not turn into 2000-01-01 (integer_datetimes must be reported)
      try (PreparedStatement ps = a.prepareStatement("SELECT ts, tz, n, s FROM jdbc_t WHERE id = ?")) {
        for (int i = 1; i <= 8; i++) {
          ps.setInt(1, 1);
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            System.out.println("exec" + i + ".ts=" + rs.getTimestamp(1).toLocalDateTime());
            System.out.println("exec" + i + ".tz=" + rs.getObject(2, OffsetDateTime.class).toInstant());
            System.out.println("exec" + i + ".n=" + rs.getBigDecimal(3));
            System.out.println("exec" + i + ".s=" + rs.getString(4));
          }
        }
      }
      // the same statement names (S_1, S_2 ...) on a second connection, with other queries
      try (PreparedStatement pa = a.prepareStatement("SELECT ? + 1");
           PreparedStatement pb = b.prepareStatement("SELECT ? || 'b'")) {
        for (int i = 0; i < 7; i++) {
          pa.setInt(1, i);
          pb.setString(1, "x" + i);
          try (ResultSet ra = pa.executeQuery(); ResultSet rb = pb.executeQuery()) {
            ra.next();
            rb.next();
            if (i == 6) System.out.println("names.a=" + ra.getInt(1) + " names.b=" + rb.getString(1));
          }
        }
      }
      // a transaction rolled back; an error with its SQLSTATE; the connection goes on
      a.setAutoCommit(false);
      try (Statement st = a.createStatement()) {
        st.execute("INSERT INTO jdbc_t(id) VALUES (2)");
        a.rollback();
        try {
          st.execute("SELECT 1/0");
        } catch (SQLException e) {
          System.out.println("error.state=" + e.getSQLState());
          a.rollback();
        }
        try (ResultSet rs = st.executeQuery("SELECT count(*) FROM jdbc_t")) {
          rs.next();
          System.out.println("count=" + rs.getInt(1));
        }
      }
      a.commit();
      try (Statement st = b.createStatement(); ResultSet rs = st.executeQuery("SELECT current_setting('TimeZone'), current_setting('application_name')")) {
        rs.next();
        System.out.println("b.appname=" + rs.getString(2));
      }
    }
  }
}
