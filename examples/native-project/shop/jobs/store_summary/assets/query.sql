SELECT order_date,
       store,
       orders,
       round(revenue / orders, 2) AS average_order
FROM sales.daily_revenue
WHERE order_date >= substr('{{.DSTART}}', 1, 10)
  AND order_date < substr('{{.DEND}}', 1, 10)
