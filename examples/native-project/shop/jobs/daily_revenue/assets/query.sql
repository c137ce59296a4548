SELECT order_date,
       store,
       count(*) AS orders,
       round(sum(quantity * price), 2) AS revenue
FROM raw.orders
WHERE order_date >= substr('{{.DSTART}}', 1, 10)
  AND order_date < substr('{{.DEND}}', 1, 10)
GROUP BY order_date, store
